/**
 * The vendor's tenant account, as a user of the package writes it: the repository the vendor
 * pushes releases to, and the role the customers' install accounts assume to pull them.
 */
import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EcrAccessRole, TenantRepository } from 'cdk-byoc-artifacts';

/** Shared between the vendor and each customer install; not a secret, but never guessable. */
export const EXTERNAL_ID = 'acme-byoc-7f3c9a1e';
export const TENANT_ENV = { account: '111111111111', region: 'eu-west-1' };
export const INSTALL_ACCOUNT_IDS = ['222222222222'];
export const ACCESS_ROLE_NAME = 'acme-byoc-install-pull';

export class TenantStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const components = new TenantRepository(this, 'Components', { repositoryName: 'acme/component' });
    const installPull = new EcrAccessRole(this, 'InstallPull', {
      repositories: [components.repository],
      trustedAccountIds: INSTALL_ACCOUNT_IDS,
      externalId: EXTERNAL_ID,
      roleName: ACCESS_ROLE_NAME,
    });

    new CfnOutput(this, 'RepositoryUri', { value: components.repositoryUri });
    new CfnOutput(this, 'AccessRoleArn', { value: installPull.roleArn });
  }
}
