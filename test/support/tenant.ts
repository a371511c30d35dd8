import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** The example component: a Dockerfile directory the tenant tests build as an asset. */
export const COMPONENT = path.join(__dirname, '..', '..', 'examples', 'component');
export const ENV = { account: '111111111111', region: 'eu-west-1' };
/** The CDK asset repository of `ENV`, as rendered in a policy. */
export const ASSET_REPO_ARN = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111111111111:repository/cdk-hnb659fds-container-assets-111111111111-eu-west-1']],
};
export const PULL = ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'];
export const PUSH = ['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage'];

export function newStack(): Stack {
  return new Stack(new App(), 'Tenant', { env: ENV });
}

/** The logical id of the (first) ECR repository of the template. */
export function repoLogicalId(template: Template): string {
  return Object.keys(template.findResources('AWS::ECR::Repository'))[0];
}

/** Every IAM statement of the stack's policies and roles (identity policies, not trust). */
export function identityStatements(template: Template): any[] {
  const out: any[] = [];
  for (const res of Object.values(template.findResources('AWS::IAM::Policy'))) {
    out.push(...(res as any).Properties.PolicyDocument.Statement);
  }
  for (const res of Object.values(template.findResources('AWS::IAM::Role'))) {
    for (const p of (res as any).Properties.Policies ?? []) out.push(...p.PolicyDocument.Statement);
  }
  return out;
}

export function asList<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}
