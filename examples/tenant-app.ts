/**
 * The vendor's tenant account: one repository of component images, an image built from
 * `examples/component/`, the pull role two customer install accounts assume, and the third-party
 * images installs use without ever pulling from Docker Hub: a Docker Hub pull-through cache (with
 * its repository creation template) and a pinned import of a public nginx image; and a Helm chart
 * from source, packed at synth time and pushed at deploy time.
 *
 * Synthesize it offline (from the repository root):
 *   CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --app 'npx tsx examples/tenant-app.ts' -o cdk.out/tenant --quiet
 * Without relying on cdk.json, every offline setting on the command line:
 *   CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --app 'npx tsx examples/tenant-app.ts' --no-notices \
 *     --no-version-reporting --context cli-telemetry=false -o cdk.out/tenant --quiet
 * Or without the CDK CLI at all:
 *   CDK_OUTDIR=cdk.out/tenant npx tsx examples/tenant-app.ts
 * Pin the nginx import to the digest the vendor vetted (a release then fails if the tag moved):
 *   ... --context nginxDigest=sha256:<64 hex digits>
 */
import * as path from 'path';
import { App, CfnOutput, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { EcrAccessRole } from '../src/ecr-access-role';
import { ImageSource } from '../src/image-source';
import { PullThroughCache } from '../src/pull-through-cache';
import { TenantChart } from '../src/tenant-chart';
import { TenantImport } from '../src/tenant-import';
import { TenantRepository } from '../src/tenant-repository';
import { UpstreamRegistry } from '../src/upstream-registry';

/** Fixed, fictitious accounts: the example never talks to AWS. */
export const TENANT_ENV = { account: '111111111111', region: 'eu-west-1' };
export const INSTALL_ACCOUNT_IDS = ['222222222222', '333333333333'];
/**
 * Not a secret (every install template shows it), but unique to this vendor: at least 16
 * characters, e.g. random letters and digits.
 */
export const EXTERNAL_ID = 'acme-byoc-7f3c9a1e';
export const COMPONENT_TAG = '1.0.0';
export const ACCESS_ROLE_NAME = 'acme-byoc-install-pull';
/** The Docker Hub login, created once by hand (ECR reads only secrets named `ecr-pullthroughcache/...`). */
export const DOCKER_HUB_SECRET_NAME = 'ecr-pullthroughcache/docker-hub';
/** The public image imported into the tenant; installs sync it from there like any component. */
export const NGINX_IMAGE = 'public.ecr.aws/nginx/nginx:1.27';

/** The chart packed from source (the test suite's chart: Helm's loader rules in one directory). */
export const WEB_CHART_DIRECTORY = path.join(__dirname, '..', 'test', 'fixtures', 'charts', 'web');

/** The tenant stack: repository, component image, and the installs' pull role. */
export class TenantStack extends Stack {
  public readonly repository: TenantRepository;
  public readonly accessRole: EcrAccessRole;
  public readonly dockerHubCache: PullThroughCache;
  public readonly nginx: TenantImport;
  public readonly webChart: TenantChart;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    this.repository = new TenantRepository(this, 'Components', {
      repositoryName: 'acme/component',
      // A moving tag for development builds; release tags stay immutable.
      mutableTagPatterns: ['dev-*'],
    });

    const image = this.repository.addImage('Component', {
      directory: path.join(__dirname, 'component'),
      tag: COMPONENT_TAG,
      buildArgs: { COMPONENT_VERSION: COMPONENT_TAG },
      platform: ecr_assets.Platform.LINUX_ARM64,
    });

    this.accessRole = new EcrAccessRole(this, 'InstallPull', {
      repositories: [this.repository],
      trustedAccountIds: INSTALL_ACCOUNT_IDS,
      externalId: EXTERNAL_ID,
      // A fixed name gives the installs a role ARN they can know before the tenant stack deploys.
      roleName: ACCESS_ROLE_NAME,
    });

    // Docker Hub through the tenant's own registry: one authenticated pull per image, whatever the
    // number of installs. Cached repositories are docker-hub/<upstream name>, e.g.
    // docker-hub/library/redis, with immutable tags (but latest), scan on push and a lifecycle policy.
    this.dockerHubCache = new PullThroughCache(this, 'DockerHub', {
      upstream: UpstreamRegistry.dockerHub(secretsmanager.Secret.fromSecretNameV2(this, 'DockerHubLogin', DOCKER_HUB_SECRET_NAME)),
    });
    this.dockerHubCache.grantAccessRole(this.accessRole);

    // A pinned import: nginx copied into the tenant once, at deploy time, by digest.
    const thirdParty = new TenantRepository(this, 'ThirdParty', { repositoryName: 'acme/third-party/nginx' });
    const nginxDigest = this.node.tryGetContext('nginxDigest') as string | undefined;
    this.nginx = thirdParty.importImage('Nginx', { source: ImageSource.fromRegistry(NGINX_IMAGE), expectedDigest: nginxDigest });
    this.accessRole.addRepository(thirdParty);

    // A Helm chart from source: packed at synth time without helm, pushed at deploy time under its
    // version, pinned to the digest computed at synth.
    const charts = new TenantRepository(this, 'Charts', { repositoryName: 'acme/web' });
    this.webChart = charts.addChart('Web', { directory: WEB_CHART_DIRECTORY });
    this.accessRole.addRepository(charts);

    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });
    new CfnOutput(this, 'ImageUri', { value: image.imageUri });
    new CfnOutput(this, 'AccessRoleArn', { value: this.accessRole.roleArn });
    new CfnOutput(this, 'ExternalId', { value: this.accessRole.externalId });
    new CfnOutput(this, 'DockerHubCachePrefix', { value: this.dockerHubCache.repositoryPrefix });
    new CfnOutput(this, 'NginxImageUri', { value: this.nginx.imageUri });
    new CfnOutput(this, 'WebChartReference', { value: this.webChart.chartReference });
  }
}

/** Builds the tenant app, with the cdk-nag AwsSolutions checks run at synthesis. */
export function buildTenantApp(outdir?: string): { app: App; stack: TenantStack } {
  const app = new App({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks());
  const stack = new TenantStack(app, 'ByocTenant', { env: TENANT_ENV, description: 'cdk-byoc-artifacts example: tenant account' });
  return { app, stack };
}

if (require.main === module) {
  buildTenantApp().app.synth();
}
