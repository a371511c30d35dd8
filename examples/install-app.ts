/**
 * A customer's install account: its own repository, the release synced into it from the
 * vendor's tenant repository (through the tenant's pull role) and a public image synced from a
 * public registry, and an ECS task definition that runs both, pinned by digest.
 *
 * Synthesize it offline:
 *   CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --app 'npx tsx examples/install-app.ts' -o cdk.out/install --quiet
 * A new release is a new tag (or `-c releaseId=...`) and a `cdk deploy` of this stack.
 */
import { App, CfnOutput, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { ACCESS_ROLE_NAME, COMPONENT_TAG, EXTERNAL_ID, TENANT_ENV } from './tenant-app';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { InstallRepository } from '../src/install-repository';

/** A fictitious install account (one of the two the tenant's pull role trusts). */
export const INSTALL_ENV = { account: '222222222222', region: 'eu-west-1' };
/** The tenant stack's outputs, as the vendor hands them to the customer. */
export const TENANT_REPOSITORY_ARN = `arn:aws:ecr:${TENANT_ENV.region}:${TENANT_ENV.account}:repository/acme/component`;
export const TENANT_ACCESS_ROLE_ARN = `arn:aws:iam::${TENANT_ENV.account}:role/${ACCESS_ROLE_NAME}`;
/** The tenant repository's URI: derived from its ARN by `ImageSource.fromTenantEcr`. */
export const TENANT_REPOSITORY_URI = `${TENANT_ENV.account}.dkr.ecr.${TENANT_ENV.region}.amazonaws.com/acme/component`;
/** A public image the install runs next to the component (anonymous pull). */
export const PROXY_IMAGE = 'public.ecr.aws/nginx/nginx:1.27-alpine';

/** Props of the install stack. */
export interface InstallStackProps extends StackProps {
  /** The release to install: the component's tag in the tenant repository. */
  readonly componentTag?: string;
  /** Names the release in the tenant's CloudTrail; changing it re-runs the sync. */
  readonly releaseId?: string;
}

/** The install stack: repository, two syncs, and a task definition that uses the digests. */
export class InstallStack extends Stack {
  public readonly repository: InstallRepository;
  public readonly component: ImageSync;
  public readonly proxy: ImageSync;
  public readonly taskDefinition: ecs.FargateTaskDefinition;

  constructor(scope: Construct, id: string, props: InstallStackProps = {}) {
    super(scope, id, props);

    this.repository = new InstallRepository(this, 'Artifacts', { repositoryName: 'acme/install' });

    this.component = new ImageSync(this, 'Component', {
      source: ImageSource.fromTenantEcr(ecr.Repository.fromRepositoryArn(this, 'TenantRepository', TENANT_REPOSITORY_ARN), {
        tag: props.componentTag ?? COMPONENT_TAG,
        accessRole: iam.Role.fromRoleArn(this, 'TenantAccessRole', TENANT_ACCESS_ROLE_ARN, { mutable: false }),
        externalId: EXTERNAL_ID,
      }),
      destination: ImageSyncDestination.fromInstallRepository(this.repository),
      releaseId: props.releaseId,
      platforms: [ecr_assets.Platform.LINUX_ARM64],
    });

    this.proxy = new ImageSync(this, 'Proxy', {
      source: ImageSource.fromRegistry(PROXY_IMAGE),
      destination: ImageSyncDestination.fromInstallRepository(this.repository),
      tag: 'nginx-1.27-alpine',
      platforms: [ecr_assets.Platform.LINUX_ARM64],
    });

    const logGroup = new logs.LogGroup(this, 'TaskLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 512,
      memoryLimitMiB: 1024,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    // containerImage() pins the digest the sync copied and grants the execution role pull.
    this.taskDefinition.addContainer('component', {
      image: this.component.containerImage(),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'component' }),
    });
    this.taskDefinition.addContainer('proxy', {
      image: this.proxy.containerImage(),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'proxy' }),
      portMappings: [{ containerPort: 8080 }],
    });

    new CfnOutput(this, 'ComponentImageUri', { value: this.component.imageUri });
    new CfnOutput(this, 'ComponentImageDigest', { value: this.component.imageDigest });
    new CfnOutput(this, 'ProxyImageUri', { value: this.proxy.imageUri });
    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });
  }
}

/** Builds the install app, with the cdk-nag AwsSolutions checks run at synthesis. */
export function buildInstallApp(outdir?: string): { app: App; stack: InstallStack } {
  const app = new App({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks());
  const stack = new InstallStack(app, 'ByocInstall', {
    env: INSTALL_ENV,
    description: 'cdk-byoc-artifacts example: install account',
    componentTag: app.node.tryGetContext('componentTag'),
    releaseId: app.node.tryGetContext('releaseId') ?? `component-${COMPONENT_TAG}`,
  });
  return { app, stack };
}

if (require.main === module) {
  buildInstallApp().app.synth();
}
