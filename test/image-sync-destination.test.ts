import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { newStack, policyStatements, SHARED_ROLE_PREFIX, tenantSource } from './support/image-sync';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { InstallRepository } from '../src/install-repository';

function syncRoleLogicalId(template: Template): string {
  return Object.keys(template.findResources('AWS::IAM::Role', {
    Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] }, Description: Match.stringLikeRegexp('ImageSync') },
  }))[0];
}

describe('ImageSyncDestination', () => {
  test('makes the function the install repository\'s exempt writer, with pull for its existence checks', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Install');
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromInstallRepository(repo) });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Action: Match.arrayWith(['ecr:PutImage', 'ecr:BatchDeleteImage']),
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [syncRoleLogicalId(template), 'Arn'] } } },
        })]),
      },
    });
    const actions = policyStatements(template, SHARED_ROLE_PREFIX).flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['ecr:PutImage', 'ecr:CompleteLayerUpload', 'ecr:BatchGetImage', 'ecr:BatchCheckLayerAvailability']));
    // Whether the tags are immutable, so that an Update (a rollback) can be answered without the tenant.
    expect(actions).toContain('ecr:DescribeRepositories');
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { DestinationRepositoryName: { Ref: Match.stringLikeRegexp('^Install') } });
  });

  test.each([
    ['the InstallRepository', (repo: InstallRepository) => repo],
    ['its inner repository', (repo: InstallRepository) => repo.repository],
  ])('recognises %s given to fromEcr and makes the function the install repository\'s writer', (_name, pick) => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Install');
    const destination = ImageSyncDestination.fromEcr(pick(repo));
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination });
    const template = Template.fromStack(stack);

    expect(destination.repository).toBe(repo);
    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [syncRoleLogicalId(template), 'Arn'] } } },
        })]),
      },
    });
  });

  test('takes any other ECR repository as it is', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    expect(ImageSyncDestination.fromEcr(repo).repository).toBe(repo);
  });
});
