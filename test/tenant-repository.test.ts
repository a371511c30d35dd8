import { Lazy, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { COMPONENT, newStack, PULL, PUSH, repoLogicalId } from './support/tenant';
import { EcrAccessRole } from '../src/ecr-access-role';
import { TenantRepository } from '../src/tenant-repository';

describe('TenantRepository', () => {
  test('defaults to immutable tags but the signature tags (sha256-*), scan on push, AES256 and retain', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo');
    const template = Template.fromStack(stack);
    template.hasResource('AWS::ECR::Repository', {
      Properties: {
        ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        ImageScanningConfiguration: { ScanOnPush: true },
        EncryptionConfiguration: { EncryptionType: 'AES256' },
        ImageTagMutabilityExclusionFilters: [{ ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'sha256-*' }],
        RepositoryName: Match.absent(),
        EmptyOnDelete: Match.absent(),
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('names the repository', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo', { repositoryName: 'acme/api' });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', { RepositoryName: 'acme/api' });
    expect(stack.resolve(repo.repositoryName)).toEqual({ Ref: repoLogicalId(Template.fromStack(stack)) });
  });

  test('encrypts with a customer KMS key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const repo = new TenantRepository(stack, 'Repo', { encryptionKey: key });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } },
    });
    expect(repo.encryptionKey).toBe(key);
  });

  test('keeps the named tag patterns and the signature tags mutable and every other tag immutable', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo', { mutableTagPatterns: ['latest', 'dev-*'] });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      ImageTagMutabilityExclusionFilters: [
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'latest' },
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'dev-*' },
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'sha256-*' },
      ],
    });
  });

  test('keeps every tag immutable with mutableSignatureTags false', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo', { mutableSignatureTags: false });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      ImageTagMutability: 'IMMUTABLE',
      ImageTagMutabilityExclusionFilters: Match.absent(),
    });
  });

  test('lists the signature tags once when mutableTagPatterns already names them', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo', { mutableTagPatterns: ['sha256-*', 'latest'] });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      ImageTagMutabilityExclusionFilters: [
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'sha256-*' },
        { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'latest' },
      ],
    });
  });

  test('turns scan on push off when asked', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo', { imageScanOnPush: false });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', { ImageScanningConfiguration: { ScanOnPush: false } });
  });

  test('deletes the repository and its images when asked', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo', { removalPolicy: RemovalPolicy.DESTROY, emptyOnDelete: true });
    Template.fromStack(stack).hasResource('AWS::ECR::Repository', {
      Properties: { EmptyOnDelete: true },
      DeletionPolicy: 'Delete',
    });
  });

  test('exposes the repository, its name, ARN and URI', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    const id = repoLogicalId(Template.fromStack(stack));
    expect(repo.repository).toBeInstanceOf(ecr.Repository);
    expect(stack.resolve(repo.repositoryArn)).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
    expect(stack.resolve(repo.repositoryUri)).toEqual(stack.resolve(repo.repository.repositoryUri));
  });

  test('grantPull allows the pull actions on the repository and the login token on *', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    repo.grantPull(role);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Action: PULL, Effect: 'Allow', Resource: { 'Fn::GetAtt': [repoLogicalId(template), 'Arn'] } },
          { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
        ],
      },
    });
  });

  test('grantPush allows the push actions on the repository and the login token on *', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    const role = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com') });
    repo.grantPush(role);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', ...PUSH], Effect: 'Allow', Resource: { 'Fn::GetAtt': [repoLogicalId(template), 'Arn'] } },
          { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
        ],
      },
    });
  });

  test('grantPullPush allows pull and push on the repository and the login token on *', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.grantPullPush(new iam.Role(stack, 'Ci', { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com') }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Action: [...PULL, ...PUSH], Effect: 'Allow', Resource: { 'Fn::GetAtt': [repoLogicalId(template), 'Arn'] } },
          { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
        ],
      },
    });
  });

  test('is an ecr.IRepository: an EcrAccessRole takes it and pulls from its ARN', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    new EcrAccessRole(stack, 'Pull', { repositories: [repo], trustedAccountIds: ['222222222222'], externalId: 'acme-byoc-7f3c9a1e' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Role', {
      Policies: [{ PolicyName: 'EcrPull', PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Resource: { 'Fn::GetAtt': [repoLogicalId(template), 'Arn'] } })]) } }],
    });
    expect(stack.resolve(repo.repositoryUriForTag('v1'))).toEqual(stack.resolve(repo.repository.repositoryUriForTag('v1')));
  });

  test('grantCrossAccountPull allows exactly the pull set to the named accounts in the repository policy', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    const result = repo.grantCrossAccountPull(['222222222222', '333333333333']);
    expect(result.statementAdded).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: {
        Statement: [{
          Effect: 'Allow',
          Action: [...PULL, 'ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeRepositories'],
          Principal: {
            AWS: [
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::222222222222:root']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::333333333333:root']] },
            ],
          },
          Condition: Match.absent(),
        }],
      },
    });
  });

  test('grantCrossAccountPull limits the pull to an organization when asked', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.grantCrossAccountPull(['222222222222'], { principalOrgId: 'o-a1b2c3d4e5' });
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: {
        Statement: [Match.objectLike({ Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } })],
      },
    });
  });

  test('addToResourcePolicy adds a statement to the repository policy', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.addToResourcePolicy(new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['ecr:BatchDeleteImage'],
    }));
    Template.fromStack(stack).hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: { Statement: [Match.objectLike({ Effect: 'Deny', Action: 'ecr:BatchDeleteImage', Principal: { AWS: '*' } })] },
    });
  });

  test('imports a repository by name or by attributes', () => {
    const stack = newStack();
    const byName = TenantRepository.fromRepositoryName(stack, 'ByName', 'acme/api');
    const byAttrs = TenantRepository.fromRepositoryAttributes(stack, 'ByAttrs', {
      repositoryName: 'acme/web',
      repositoryArn: 'arn:aws:ecr:eu-west-1:999999999999:repository/acme/web',
    });
    expect(byName.repositoryName).toBe('acme/api');
    expect(stack.resolve(byName.repositoryArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111111111111:repository/acme/api']],
    });
    expect(byAttrs.repositoryArn).toBe('arn:aws:ecr:eu-west-1:999999999999:repository/acme/web');
  });
});

describe('TenantRepository validation', () => {
  test.each<[string, () => void, string]>([
    ['repositoryName', () => new TenantRepository(newStack(), 'R', { repositoryName: 'Acme/API' }),
      'repositoryName: "Acme/API" is not allowed: an ECR repository name is 2-256 characters'],
    ['repositoryName too short', () => new TenantRepository(newStack(), 'R', { repositoryName: 'a' }),
      'repositoryName: "a" is not allowed'],
    ['mutableTagPatterns', () => new TenantRepository(newStack(), 'R', { mutableTagPatterns: ['ok-*', 'not/ok'] }),
      'mutableTagPatterns[1]: "not/ok" is not allowed: an ECR wildcard filter is 1-128 characters'],
    ['mutableTagPatterns empty pattern', () => new TenantRepository(newStack(), 'R', { mutableTagPatterns: [''] }),
      'mutableTagPatterns[0]: "" is not allowed'],
    ['mutableTagPatterns duplicate', () => new TenantRepository(newStack(), 'R', { mutableTagPatterns: ['dev-*', 'x', 'dev-*'] }),
      'mutableTagPatterns[2]: "dev-*" is not allowed: a pattern not listed before (it is mutableTagPatterns[0])'],
    ['emptyOnDelete without DESTROY', () => new TenantRepository(newStack(), 'R', { emptyOnDelete: true }),
      'emptyOnDelete: true is not allowed: true only with removalPolicy RemovalPolicy.DESTROY'],
    ['fromRepositoryName', () => TenantRepository.fromRepositoryName(newStack(), 'I', 'Bad Name'),
      'Invalid TenantRepository.fromRepositoryName props:\n  - repositoryName: "Bad Name" is not allowed'],
    ['fromRepositoryAttributes ARN', () => TenantRepository.fromRepositoryAttributes(newStack(), 'I', {
      repositoryName: 'acme/api', repositoryArn: 'arn:aws:s3:::bucket',
    }), 'repositoryArn: "arn:aws:s3:::bucket" is not allowed: an ARN of the form arn:<partition>:ecr:<region>:<account>:repository/...'],
    ['grantCrossAccountPull empty', () => new TenantRepository(newStack(), 'R').grantCrossAccountPull([]),
      'accountIds: [] is not allowed: at least one element is required'],
    ['grantCrossAccountPull account id', () => new TenantRepository(newStack(), 'R').grantCrossAccountPull(['222222222222', '12345']),
      'accountIds[1]: "12345" is not allowed: an AWS account id is exactly 12 digits'],
    ['grantCrossAccountPull organization', () => new TenantRepository(newStack(), 'R').grantCrossAccountPull(['222222222222'], { principalOrgId: 'org-1' }),
      'principalOrgId: "org-1" is not allowed: an organization id is "o-" and 10-32 lowercase letters or digits'],
    ['addImage tag', () => new TenantRepository(newStack(), 'R').addImage('I', { directory: COMPONENT, tag: '-bad' }),
      'Invalid TenantImage props:\n  - tag: "-bad" is not allowed: a tag is 1-128 characters'],
    ['addImage tag reused', () => {
      const repo = new TenantRepository(newStack(), 'R');
      repo.addImage('A', { directory: COMPONENT, tag: 'v1' });
      repo.addImage('B', { directory: COMPONENT, tag: 'v1', buildArgs: { COMPONENT_VERSION: '2' } });
    }, 'tag: "v1" is not allowed: a tag no other image of this repository uses (image "A" has it'],
    ['addImage same build twice', () => {
      const repo = new TenantRepository(newStack(), 'R');
      repo.addImage('A', { directory: COMPONENT });
      repo.addImage('B', { directory: COMPONENT });
    }, 'a tag no other image of this repository uses (image "A" has it'],
  ])('fails on a bad %s naming prop, value and what is allowed', (_name, build, message) => {
    expect(build).toThrow(message);
  });

  test('fails with every problem of the props in one message', () => {
    expect(() => new TenantRepository(newStack(), 'R', { repositoryName: 'X', mutableTagPatterns: ['a b'], emptyOnDelete: true }))
      .toThrow(/Invalid TenantRepository props:\n {2}- repositoryName: "X".*\n {2}- mutableTagPatterns\[0\]: "a b".*\n {2}- emptyOnDelete: true/);
  });

  test('lets tokens through unvalidated', () => {
    const stack = newStack();
    // Values only known at deploy time: construction must not judge them (CloudFormation does).
    const name = Lazy.string({ produce: () => 'NOT a valid name' });
    const account = Lazy.string({ produce: () => 'not-an-account' });
    expect(() => new TenantRepository(stack, 'R', { repositoryName: name })).not.toThrow();
    expect(() => new TenantRepository(stack, 'R2').grantCrossAccountPull([account], { principalOrgId: Lazy.string({ produce: () => 'x' }) }))
      .not.toThrow();
    expect(() => new TenantRepository(stack, 'R3').addImage('I', { directory: COMPONENT, tag: Lazy.string({ produce: () => '-x' }) }))
      .not.toThrow();
  });
});
