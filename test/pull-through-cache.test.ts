import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { newStack } from './support/tenant';
import { EcrAccessRole } from '../src/ecr-access-role';
import { LifecyclePolicy } from '../src/lifecycle/policy';
import { PullThroughCache } from '../src/pull-through-cache';
import { UpstreamRegistry } from '../src/upstream-registry';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:ecr-pullthroughcache/docker-hub-AbCdEf';

function dockerHub(stack: Stack): UpstreamRegistry {
  return UpstreamRegistry.dockerHub(secretsmanager.Secret.fromSecretCompleteArn(stack, 'DockerHubLogin', SECRET_ARN));
}

describe('PullThroughCache', () => {
  test('renders the cache rule with the upstream URL, its kind and the credential secret', () => {
    const stack = newStack();
    new PullThroughCache(stack, 'DockerHub', { upstream: dockerHub(stack) });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::PullThroughCacheRule', {
      EcrRepositoryPrefix: 'docker-hub',
      UpstreamRegistryUrl: 'registry-1.docker.io',
      UpstreamRegistry: 'docker-hub',
      CredentialArn: SECRET_ARN,
      CustomRoleArn: Match.absent(),
    });
  });

  test('gives the cached repositories immutable tags with exclusions, AES256 and the default lifecycle policy', () => {
    const stack = newStack();
    new PullThroughCache(stack, 'Quay', { upstream: UpstreamRegistry.quay(), repositoryPrefix: 'mirror/quay' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECR::RepositoryCreationTemplate', {
      Prefix: 'mirror/quay',
      AppliedFor: ['PULL_THROUGH_CACHE'],
      ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      ImageTagMutabilityExclusionFilters: [{ ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'latest' }],
      EncryptionConfiguration: { EncryptionType: 'AES256' },
      CustomRoleArn: Match.absent(),
    });
    const [templateResource] = Object.values(template.findResources('AWS::ECR::RepositoryCreationTemplate'));
    const rules = JSON.parse((templateResource as any).Properties.LifecyclePolicy).rules;
    expect(rules).toEqual([
      expect.objectContaining({ rulePriority: 1, selection: expect.objectContaining({ tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 14 }) }),
      expect.objectContaining({ rulePriority: 2, selection: expect.objectContaining({ tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 200 }) }),
    ]);
  });

  test('creates the template before the rule, so the first cached repository gets its settings', () => {
    const stack = newStack();
    new PullThroughCache(stack, 'K8s', { upstream: UpstreamRegistry.kubernetes() });
    const template = Template.fromStack(stack);
    const [templateId] = Object.keys(template.findResources('AWS::ECR::RepositoryCreationTemplate'));
    template.hasResource('AWS::ECR::PullThroughCacheRule', { DependsOn: [templateId] });
  });

  test('makes every tag immutable when no pattern stays mutable, and takes the lifecycle rules given', () => {
    const stack = newStack();
    new PullThroughCache(stack, 'Public', {
      upstream: UpstreamRegistry.ecrPublic(),
      mutableTagPatterns: [],
      lifecycleRules: [{ tagStatus: ecr.TagStatus.ANY, maxImageAge: Duration.days(30) }],
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECR::RepositoryCreationTemplate', {
      ImageTagMutability: 'IMMUTABLE', ImageTagMutabilityExclusionFilters: Match.absent(),
    });
    const [res] = Object.values(template.findResources('AWS::ECR::RepositoryCreationTemplate'));
    expect(JSON.parse((res as any).Properties.LifecyclePolicy).rules).toEqual([
      expect.objectContaining({ selection: expect.objectContaining({ tagStatus: 'any', countType: 'sinceImagePushed', countNumber: 30 }) }),
    ]);
  });

  test('encrypts the cached repositories with a customer key through a role ECR assumes', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new PullThroughCache(stack, 'Ghcr', {
      upstream: UpstreamRegistry.githubContainerRegistry(secretsmanager.Secret.fromSecretNameV2(stack, 'Login', 'ecr-pullthroughcache/ghcr')),
      encryptionKey: key,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECR::RepositoryCreationTemplate', {
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } },
      CustomRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GhcrTemplateRole'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ecr.amazonaws.com' } })] },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^GhcrTemplateRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['ecr:CreateRepository', 'ecr:TagResource'],
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111111111111:repository/ghcr/*']] },
          }),
          Match.objectLike({ Action: ['kms:CreateGrant', 'kms:RetireGrant', 'kms:DescribeKey'] }),
        ]),
      },
    });
  });

  test('declares basic scan on push for the registry once per stack, and not when turned off', () => {
    const stack = newStack();
    new PullThroughCache(stack, 'Quay', { upstream: UpstreamRegistry.quay() });
    new PullThroughCache(stack, 'K8s', { upstream: UpstreamRegistry.kubernetes() });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ECR::RegistryScanningConfiguration', 1);
    template.hasResourceProperties('AWS::ECR::RegistryScanningConfiguration', {
      ScanType: 'BASIC',
      Rules: [{ ScanFrequency: 'SCAN_ON_PUSH', RepositoryFilters: [{ Filter: '*', FilterType: 'WILDCARD' }] }],
    });
    const other = newStack();
    new PullThroughCache(other, 'Quay', { upstream: UpstreamRegistry.quay(), scanOnPush: false });
    Template.fromStack(other).resourceCountIs('AWS::ECR::RegistryScanningConfiguration', 0);
  });

  test('creates the role ECR assumes for an upstream ECR registry of another account, scoped to its repositories', () => {
    const stack = newStack();
    const cache = new PullThroughCache(stack, 'Vendor', {
      upstream: UpstreamRegistry.ecr({ account: '222222222222', region: 'us-east-1', upstreamRepositoryPrefix: 'releases' }),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', {
      UpstreamRegistryUrl: '222222222222.dkr.ecr.us-east-1.amazonaws.com',
      UpstreamRegistry: 'ecr',
      UpstreamRepositoryPrefix: 'releases',
      CustomRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^VendorUpstreamRole'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'pullthroughcache.ecr.amazonaws.com' }, Action: 'sts:AssumeRole' })],
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:us-east-1:222222222222:repository/releases/*']] },
        })]),
      },
    });
    expect(cache.upstreamRole).toBeDefined();
  });

  test('needs no role for an upstream ECR registry of its own account', () => {
    const stack = newStack();
    const cache = new PullThroughCache(stack, 'OtherRegion', { upstream: UpstreamRegistry.ecr({ account: '111111111111', region: 'us-east-1' }) });
    expect(cache.upstreamRole).toBeUndefined();
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::PullThroughCacheRule', { CustomRoleArn: Match.absent() });
  });

  test('grants pulling through the cache on the cached repositories only', () => {
    const stack = newStack();
    const cache = new PullThroughCache(stack, 'DockerHub', { upstream: dockerHub(stack) });
    const role = new iam.Role(stack, 'Puller', { assumedBy: new iam.AccountPrincipal('222222222222') });
    cache.grantPullThrough(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage',
              'ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeRepositories',
              'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository',
            ],
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111111111111:repository/docker-hub/*']] },
          },
          { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        ],
      },
    });
  });

  test('lets every role of an EcrAccessRole pull through the cache', () => {
    const stack = newStack();
    const cache = new PullThroughCache(stack, 'DockerHub', { upstream: dockerHub(stack) });
    const nginx = cache.repository(stack, 'Nginx', 'library/nginx');
    const access = new EcrAccessRole(stack, 'Access', {
      repositories: [nginx], externalId: 'acme-vendor-0123456789', trustedAccountIds: ['222222222222'],
    });
    cache.grantAccessRole(access);
    expect(stack.resolve(nginx.repositoryName)).toBe('docker-hub/library/nginx');
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Access') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['ecr:BatchImportUpstreamImage']) })]) },
    });
  });

  test('passes the cdk-nag AwsSolutions checks with its own acknowledgements', () => {
    const stack = newStack();
    const cache = new PullThroughCache(stack, 'DockerHub', { upstream: dockerHub(stack), encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) });
    new PullThroughCache(stack, 'Vendor', { upstream: UpstreamRegistry.ecr({ account: '222222222222', region: 'us-east-1' }) });
    const access = new EcrAccessRole(stack, 'Access', {
      repositories: [cache.repository(stack, 'Nginx', 'library/nginx')], externalId: 'acme-vendor-0123456789', trustedAccountIds: ['222222222222'],
    });
    cache.grantAccessRole(access);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('passes the cdk-nag AwsSolutions checks in an environment-agnostic stack', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const cache = new PullThroughCache(stack, 'Quay', { upstream: UpstreamRegistry.quay() });
    new PullThroughCache(stack, 'Vendor', { upstream: UpstreamRegistry.ecr({ account: '222222222222', region: 'us-east-1' }) });
    cache.grantPullThrough(new iam.Role(stack, 'Puller', { assumedBy: new iam.AccountPrincipal('222222222222') }));
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  test.each([
    ['ROOT', /repositoryPrefix: "ROOT" is not allowed: a namespace of its own/],
    ['Docker', /repositoryPrefix: "Docker" is not allowed: 2-30 characters of lowercase letters/],
    ['x', /repositoryPrefix: "x" is not allowed: 2-30 characters/],
    ['a-namespace-that-is-far-too-long-for-ecr', /is not allowed: 2-30 characters/],
  ])('fails on the repository prefix %s', (prefix, message) => {
    const stack = newStack();
    expect(() => new PullThroughCache(stack, 'Cache', { upstream: UpstreamRegistry.quay(), repositoryPrefix: prefix })).toThrow(message);
  });

  test('fails on a prefix inside another cache\'s namespace of the stack, naming that cache', () => {
    const stack = newStack();
    new PullThroughCache(stack, 'Quay', { upstream: UpstreamRegistry.quay(), repositoryPrefix: 'mirror' });
    expect(() => new PullThroughCache(stack, 'K8s', { upstream: UpstreamRegistry.kubernetes(), repositoryPrefix: 'mirror/k8s' })).toThrow(
      'repositoryPrefix: "mirror/k8s" is not allowed: a namespace no other cache of the stack covers (Tenant/Quay caches "mirror/")',
    );
  });

  test('fails on a bad mutable tag pattern and an invalid lifecycle policy, listing both', () => {
    const stack = newStack();
    expect(() => new PullThroughCache(stack, 'Quay', {
      upstream: UpstreamRegistry.quay(),
      mutableTagPatterns: ['late st'],
      lifecyclePolicy: LifecyclePolicy.fromRules([{ tagStatus: ecr.TagStatus.TAGGED, maxImageCount: 5 }]),
    })).toThrow(/mutableTagPatterns\[0\]: "late st" is not allowed[\s\S]*lifecyclePolicy: "<policy>" is not allowed/);
  });

  test('fails on an upstream repository name that is not a repository name', () => {
    const stack = newStack();
    const cache = new PullThroughCache(stack, 'DockerHub', { upstream: dockerHub(stack) });
    expect(() => cache.repository(stack, 'Bad', 'Library/Nginx')).toThrow(/repositoryName: "docker-hub\/Library\/Nginx" is not allowed/);
  });
});
