/**
 * A customer's install account, as a user of the package writes it: the install repository and
 * one release copied into it from the tenant repository, through the tenant's pull role.
 */
import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ACCESS_ROLE_NAME, EXTERNAL_ID, TENANT_ENV } from './tenant-stack';
import { ImageSource, ImageSync, ImageSyncDestination, InstallRepository } from 'cdk-byoc-artifacts';

/** What the vendor hands the customer: the tenant stack's outputs. */
export const TENANT_REPOSITORY_ARN = `arn:aws:ecr:${TENANT_ENV.region}:${TENANT_ENV.account}:repository/acme/component`;
export const TENANT_ACCESS_ROLE_ARN = `arn:aws:iam::${TENANT_ENV.account}:role/${ACCESS_ROLE_NAME}`;
export const INSTALL_ENV = { account: '222222222222', region: 'eu-west-1' };

export interface InstallStackProps extends StackProps {
  /** The release to install: the component's tag in the tenant repository. */
  readonly componentTag: string;
}

export class InstallStack extends Stack {
  constructor(scope: Construct, id: string, props: InstallStackProps) {
    super(scope, id, props);

    const artifacts = new InstallRepository(this, 'Artifacts', { repositoryName: 'acme/install' });
    const component = new ImageSync(this, 'Component', {
      source: ImageSource.fromTenantEcr(ecr.Repository.fromRepositoryArn(this, 'TenantRepository', TENANT_REPOSITORY_ARN), {
        tag: props.componentTag,
        accessRole: iam.Role.fromRoleArn(this, 'TenantAccessRole', TENANT_ACCESS_ROLE_ARN, { mutable: false }),
        externalId: EXTERNAL_ID,
      }),
      destination: ImageSyncDestination.fromInstallRepository(artifacts),
    });

    new CfnOutput(this, 'ComponentImageUri', { value: component.imageUri });
  }
}
