import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ImageSource } from '../../src/image-source';

/** The install account and Region of the ImageSync tests. */
export const INSTALL_ENV = { account: '444455556666', region: 'eu-west-1' };
/** A tenant repository of another account, as the vendor names it. */
export const TENANT_URI = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme/api';
export const TENANT_ARN = 'arn:aws:ecr:eu-west-1:111122223333:repository/acme/api';
export const ROLE_ARN = 'arn:aws:iam::111122223333:role/acme-ecr-access';
export const EXTERNAL_ID = 'install-acme-42';
export const DIGEST = `sha256:${'ab'.repeat(32)}`;
/** The logical id prefix of the stack's shared sync function role. */
export const SHARED_ROLE_PREFIX = 'cdkbyocartifactsImageSyncProviderRole';

export function newStack(): Stack {
  return new Stack(new App(), 'Install', { env: INSTALL_ENV });
}

/** The tenant repository, imported by ARN under `scope` (once per scope). */
export function tenantRepository(scope: Construct, arn: string = TENANT_ARN): ecr.IRepository {
  const id = `TenantRepository${arn === TENANT_ARN ? '' : arn.replace(/[^A-Za-z0-9]/g, '')}`;
  return (scope.node.tryFindChild(id) as ecr.IRepository | undefined) ?? ecr.Repository.fromRepositoryArn(scope, id, arn);
}

/** The tenant's access role, imported by ARN under `scope` (once per scope). */
export function accessRole(scope: Construct): iam.IRole {
  return (scope.node.tryFindChild('AccessRole') as iam.IRole | undefined)
    ?? iam.Role.fromRoleArn(scope, 'AccessRole', ROLE_ARN, { mutable: false });
}

/** A tenant ECR source of `TENANT_ARN` through `ROLE_ARN`. */
export function tenantSource(scope: Construct, extra: { tag?: string; digest?: string } = { tag: 'v1.2.3' }): ImageSource {
  return ImageSource.fromTenantEcr(tenantRepository(scope), { accessRole: accessRole(scope), externalId: EXTERNAL_ID, ...extra });
}

/** The logical id of the one sync function (`index.handler`) of the template. */
export function syncFunctionLogicalId(template: Template): string {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } });
  const ids = Object.keys(fns);
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** Every statement of the identity policies attached to roles whose logical id starts with the prefix. */
export function policyStatements(template: Template, roleLogicalIdPrefix: string): any[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref?.startsWith(roleLogicalIdPrefix)))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}
