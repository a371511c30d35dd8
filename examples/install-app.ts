/**
 * A customer's install account: one repository shared by three components, each an `ImageSync`
 * owning its release family (`api_*`, `worker_*`, `proxy_*`): the vendor's multi-arch API
 * (two platforms) and its worker pinned by digest, both synced from the tenant repository
 * through the tenant's pull role, and a third-party proxy image synced once from a public
 * registry. An ECS task definition runs all three, pinned by digest. The repository's default
 * lifecycle policy keeps the 30 newest releases per component and never expires a release a
 * sync points at.
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
/** A public image the install runs next to the components (anonymous pull). */
export const PROXY_IMAGE = 'public.ecr.aws/nginx/nginx:1.27-alpine';
/** The worker release, pinned by digest in the tenant repository, and its release tag. */
export const WORKER_DIGEST = 'sha256:5f0c8a1e9b7d4c3a2e1f0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a';
export const WORKER_TAG = '2026.11.2';

/** Props of the install stack. */
export interface InstallStackProps extends StackProps {
  /** The API release to install: its tag in the tenant repository. */
  readonly componentTag?: string;
  /** Names the release in the tenant's CloudTrail; changing it re-runs the sync. */
  readonly releaseId?: string;
}

/** The install stack: repository, three syncs, and a task definition that uses the digests. */
export class InstallStack extends Stack {
  public readonly repository: InstallRepository;
  public readonly api: ImageSync;
  public readonly worker: ImageSync;
  public readonly proxy: ImageSync;
  public readonly taskDefinition: ecs.FargateTaskDefinition;

  constructor(scope: Construct, id: string, props: InstallStackProps = {}) {
    super(scope, id, props);

    this.repository = new InstallRepository(this, 'Artifacts', { repositoryName: 'acme/install' });

    const tenantRepository = ecr.Repository.fromRepositoryArn(this, 'TenantRepository', TENANT_REPOSITORY_ARN);
    const accessRole = iam.Role.fromRoleArn(this, 'TenantAccessRole', TENANT_ACCESS_ROLE_ARN, { mutable: false });
    const destination = ImageSyncDestination.fromInstallRepository(this.repository);

    // Component "api" (from the construct id): a multi-arch release, both platforms copied. Writes api_<tag>.
    this.api = new ImageSync(this, 'Api', {
      source: ImageSource.fromTenantEcr(tenantRepository, { tag: props.componentTag ?? COMPONENT_TAG, accessRole, externalId: EXTERNAL_ID }),
      destination,
      releaseId: props.releaseId,
      platforms: [ecr_assets.Platform.LINUX_AMD64, ecr_assets.Platform.LINUX_ARM64],
    });

    // Component "worker": pinned by digest, so it names its release tag. Writes worker_2026.11.2.
    this.worker = new ImageSync(this, 'Worker', {
      source: ImageSource.fromTenantEcr(tenantRepository, { digest: WORKER_DIGEST, accessRole, externalId: EXTERNAL_ID }),
      destination,
      tag: WORKER_TAG,
    });

    // A third-party image synced once: its own family, protected while this sync points at it.
    this.proxy = new ImageSync(this, 'Proxy', {
      source: ImageSource.fromRegistry(PROXY_IMAGE),
      destination,
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
    this.taskDefinition.addContainer('api', {
      image: this.api.containerImage(),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'api' }),
    });
    this.taskDefinition.addContainer('worker', {
      image: this.worker.containerImage(),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'worker' }),
      essential: false,
    });
    this.taskDefinition.addContainer('proxy', {
      image: this.proxy.containerImage(),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'proxy' }),
      portMappings: [{ containerPort: 8080 }],
    });

    new CfnOutput(this, 'ApiImageUri', { value: this.api.imageUri });
    new CfnOutput(this, 'ApiImageDigest', { value: this.api.imageDigest });
    new CfnOutput(this, 'WorkerImageUri', { value: this.worker.imageUri });
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
