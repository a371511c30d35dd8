/**
 * The vendor's tenant account: one repository of component images, an image built from
 * `examples/component/`, and the pull role two customer install accounts assume.
 *
 * Synthesize it offline (from the repository root):
 *   CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --app 'npx tsx examples/tenant-app.ts' -o cdk.out/tenant --quiet
 * Without relying on cdk.json, every offline setting on the command line:
 *   CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --app 'npx tsx examples/tenant-app.ts' --no-notices \
 *     --no-version-reporting --context cli-telemetry=false -o cdk.out/tenant --quiet
 * Or without the CDK CLI at all:
 *   CDK_OUTDIR=cdk.out/tenant npx tsx examples/tenant-app.ts
 */
import * as path from 'path';
import { App, CfnOutput, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { EcrAccessRole } from '../src/ecr-access-role';
import { TenantRepository } from '../src/tenant-repository';

/** Fixed, fictitious accounts: the example never talks to AWS. */
export const TENANT_ENV = { account: '111111111111', region: 'eu-west-1' };
export const INSTALL_ACCOUNT_IDS = ['222222222222', '333333333333'];
/** In a real tenant this is a per-vendor secret-like value shared with the installs. */
export const EXTERNAL_ID = 'acme-byoc-7f3c9a1e';
export const COMPONENT_TAG = '1.0.0';
export const ACCESS_ROLE_NAME = 'acme-byoc-install-pull';

/** The tenant stack: repository, component image, and the installs' pull role. */
export class TenantStack extends Stack {
  public readonly repository: TenantRepository;
  public readonly accessRole: EcrAccessRole;

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

    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });
    new CfnOutput(this, 'ImageUri', { value: image.imageUri });
    new CfnOutput(this, 'AccessRoleArn', { value: this.accessRole.roleArn });
    new CfnOutput(this, 'ExternalId', { value: this.accessRole.externalId });
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
