import { CfnResource, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { COMPONENT, newStack } from './support/tenant';
import { ImageSource } from '../src/image-source';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { TenantImport } from '../src/tenant-import';
import { TenantRepository } from '../src/tenant-repository';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const SYNC_ROLE_PREFIX = 'cdkbyocartifactsImageSyncProviderRole';

describe('TenantImport', () => {
  test('renders a Custom::ImageSync into the tenant repository under the plain tag, with the expected digest', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'ThirdParty', { repositoryName: 'third-party/nginx' });
    const imported = repo.importImage('Nginx', {
      source: ImageSource.fromRegistry('docker.io/library/nginx:1.27'), expectedDigest: DIGEST, releaseId: 'r-7',
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'Registry',
      SourceImage: 'docker.io/library/nginx:1.27',
      DestinationRepositoryName: { Ref: Match.stringLikeRegexp('^ThirdParty') },
      DestinationTag: '1.27',
      ExpectedSourceDigest: DIGEST,
      ReleaseId: 'r-7',
      RemoveOnDelete: 'false',
      CredentialsSecretArn: Match.absent(),
    });
    expect(imported.imageTag).toBe('1.27');
    const logicalId = stack.getLogicalId(imported.resource.node.defaultChild as CfnResource);
    expect(stack.resolve(imported.imageDigest)).toEqual({ 'Fn::GetAtt': [logicalId, 'ImageDigest'] });
  });

  test('leaves the expected digest out when none is given, and writes the tag it is told', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'ThirdParty');
    repo.importImage('Redis', { source: ImageSource.fromRegistry(`docker.io/library/redis@${DIGEST}`), tag: '7.4' });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceImage: `docker.io/library/redis@${DIGEST}`, DestinationTag: '7.4', ExpectedSourceDigest: Match.absent(),
    });
  });

  test('imports the upstream referrers only when asked', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'ThirdParty');
    repo.importImage('Redis', { source: ImageSource.fromRegistry(`docker.io/library/redis@${DIGEST}`), tag: '7.4' });
    repo.importImage('Nginx', { source: ImageSource.fromRegistry(`docker.io/library/nginx@${DIGEST}`), tag: '1.27', copyReferrers: true });

    const template = Template.fromStack(stack);
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { DestinationTag: '7.4', CopyReferrers: Match.absent() });
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { DestinationTag: '1.27', CopyReferrers: 'true' });
  });

  test('grants the sync function push on the tenant repository and read on the registry secret only', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'ThirdParty');
    const login = new secretsmanager.Secret(stack, 'GhcrLogin');
    repo.importImage('Operator', { source: ImageSource.fromRegistry('ghcr.io/acme/operator:2.1.0', { credentials: login }) });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp(`^${SYNC_ROLE_PREFIX}`) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: Match.stringLikeRegexp('^GhcrLogin') } }),
          Match.objectLike({ Action: Match.arrayWith(['ecr:PutImage']), Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ThirdParty'), 'Arn'] } }),
        ]),
      },
    });
  });

  test('imports from another ECR registry through an access role', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'ThirdParty');
    const partner = iam.Role.fromRoleArn(stack, 'PartnerRole', 'arn:aws:iam::333333333333:role/partner-pull', { mutable: false });
    const source = ImageSource.fromTenantEcr(
      TenantRepository.fromRepositoryAttributes(stack, 'Partner', {
        repositoryName: 'partner/agent', repositoryArn: 'arn:aws:ecr:eu-west-1:333333333333:repository/partner/agent',
      }),
      { tag: '3.0.1', accessRole: partner, externalId: 'acme-partner-0001' },
    );
    repo.importImage('Agent', { source });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'TenantEcr', AccessRoleArn: 'arn:aws:iam::333333333333:role/partner-pull', DestinationTag: '3.0.1',
    });
  });

  test('passes the cdk-nag AwsSolutions checks with its own acknowledgements', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'ThirdParty');
    repo.importImage('Nginx', { source: ImageSource.fromRegistry('docker.io/library/nginx:1.27'), expectedDigest: DIGEST });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
  });

  test('fails on a tag another image of the repository already has', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.addImage('Built', { directory: COMPONENT, tag: '1.27' });
    expect(() => repo.importImage('Nginx', { source: ImageSource.fromRegistry('docker.io/library/nginx:1.27') }))
      .toThrow('Invalid TenantImport props:\n  - tag: "1.27" is not allowed: a tag no other image of this repository uses (image "Built" has it, and tags are immutable)');
  });

  test('fails on an expected digest for a source given by digest, and on one that is no digest', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    expect(() => repo.importImage('Pinned', {
      source: ImageSource.fromRegistry(`docker.io/library/redis@${DIGEST}`), tag: '7.4', expectedDigest: DIGEST,
    })).toThrow('expectedDigest: "' + DIGEST + '" is not allowed: only with a source given by tag');
    expect(() => repo.importImage('Loose', { source: ImageSource.fromRegistry('docker.io/library/redis:7.4'), expectedDigest: 'sha256:abc' }))
      .toThrow('expectedDigest: "sha256:abc" is not allowed: a digest is "sha256:" followed by 64 lowercase hex digits');
  });

  test('fails without a tag for a source given by digest, and on a timeout over an hour, listing both', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    expect(() => new TenantImport(stack, 'Import', {
      repository: repo, source: ImageSource.fromRegistry(`docker.io/library/redis@${DIGEST}`), totalTimeout: Duration.hours(2),
    })).toThrow(/Invalid TenantImport props:\n {2}- tag: undefined is not allowed: a tag for the tenant repository[\s\S]*totalTimeout: "7200 seconds" is not allowed/);
  });
});
