import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  accessRole, DIGEST, EXTERNAL_ID, newStack, policyStatements, ROLE_ARN, SHARED_ROLE_PREFIX, TENANT_ARN, TENANT_URI, tenantRepository, tenantSource,
} from './support/image-sync';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';

function destination(stack: Stack, id = 'Repo'): ImageSyncDestination {
  return ImageSyncDestination.fromEcr(new ecr.Repository(stack, id));
}

describe('ImageSource.fromTenantEcr', () => {
  test('renders the tenant repository, the access role and the external id', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack) });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'TenantEcr',
      SourceImage: `${TENANT_URI}:v1.2.3`,
      SourceRepositoryArn: TENANT_ARN,
      AccessRoleArn: ROLE_ARN,
      ExternalId: EXTERNAL_ID,
      DestinationTag: 'v1.2.3',
    });
  });

  test('derives the tenant repository URI from its ARN and pins a digest source', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', {
      source: ImageSource.fromTenantEcr(tenantRepository(stack), { digest: DIGEST, accessRole: accessRole(stack), externalId: 'x-1' }),
      destination: destination(stack),
      tag: 'release-7',
      platforms: [ecr_assets.Platform.LINUX_ARM64],
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceImage: `${TENANT_URI}@${DIGEST}`,
      SourceRepositoryArn: TENANT_ARN,
      DestinationTag: 'release-7',
      Platforms: ['linux/arm64'],
    });
  });

  test.each([
    ['another account of the same partition', 'arn:aws:ecr:us-east-1:999988887777:repository/acme/web', '999988887777.dkr.ecr.us-east-1.amazonaws.com/acme/web'],
    ['the China partition', 'arn:aws-cn:ecr:cn-north-1:999988887777:repository/acme/web', '999988887777.dkr.ecr.cn-north-1.amazonaws.com.cn/acme/web'],
  ])('takes the registry of a repository imported by ARN from %s from the ARN, not from this stack', (_name, arn, uri) => {
    const stack = newStack();
    const repository = ecr.Repository.fromRepositoryArn(stack, 'Tenant', arn);
    new ImageSync(stack, 'Api', {
      source: ImageSource.fromTenantEcr(repository, { tag: 'v1', accessRole: accessRole(stack), externalId: EXTERNAL_ID }),
      destination: destination(stack),
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceImage: `${uri}:v1`, SourceRepositoryArn: arn });
  });

  test('accepts a tenant repository and access role known only at deploy time', () => {
    const stack = newStack();
    const repository = ecr.Repository.fromRepositoryAttributes(stack, 'Tenant', {
      repositoryArn: new CfnParameter(stack, 'Arn').valueAsString,
      repositoryName: new CfnParameter(stack, 'Name').valueAsString,
    });
    const role = iam.Role.fromRoleArn(stack, 'Role', new CfnParameter(stack, 'RoleArn').valueAsString, { mutable: false });
    new ImageSync(stack, 'Api', {
      source: ImageSource.fromTenantEcr(repository, { tag: 'v1', accessRole: role, externalId: 'ext-1' }),
      destination: destination(stack),
    });
    const template = Template.fromStack(stack);

    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceImage: { 'Fn::Join': ['', Match.arrayWith([{ Ref: 'Name' }, ':v1'])] },
      SourceRepositoryArn: { Ref: 'Arn' },
      AccessRoleArn: { Ref: 'RoleArn' },
    });
    expect(policyStatements(template, SHARED_ROLE_PREFIX)).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: { Ref: 'RoleArn' } }),
    ]));
  });

  test('fails on a tenant source without an external id', () => {
    const stack = newStack();
    expect(() => ImageSource.fromTenantEcr(tenantRepository(stack), { tag: 'v1', accessRole: accessRole(stack) } as any))
      .toThrow(/externalId: undefined is not allowed: the external id of the access role is required/);
  });

  test('fails on every bad tenant source prop at once', () => {
    const stack = newStack();
    const notEcr = ecr.Repository.fromRepositoryAttributes(stack, 'Ghcr', { repositoryName: 'acme/api', repositoryArn: 'arn:aws:s3:::acme-api' });
    const user = iam.Role.fromRoleArn(stack, 'User', 'arn:aws:iam::1:user/x', { mutable: false });
    expect(() => ImageSource.fromTenantEcr(notEcr, { tag: '.x', accessRole: user, externalId: 'x' }))
      .toThrow(new RegExp([
        'Invalid ImageSource.fromTenantEcr props:',
        '  - tag: ".x" is not allowed.*',
        '  - accessRole: "arn:aws:iam::1:user/x" is not allowed.*',
        '  - externalId: "x" is not allowed.*',
        '  - repository: "arn:aws:s3:::acme-api" is not allowed: an ECR repository.*',
      ].join('\n')));
  });

  test('fails on a tenant source without repository, access role, tag or digest', () => {
    expect(() => ImageSource.fromTenantEcr(undefined as any, { externalId: 'abc' } as any))
      .toThrow(/tag: undefined is not allowed: a tag or a digest[\s\S]*accessRole: undefined is not allowed[\s\S]*repository: undefined is not allowed: the tenant repository/);
  });
});

describe('ImageSource.fromEcr', () => {
  test('grants pull on a same-account source repository', () => {
    const stack = newStack();
    const source = new ecr.Repository(stack, 'Build');
    new ImageSync(stack, 'Api', { source: ImageSource.fromEcr(source, { tag: 'main' }), destination: destination(stack) });
    const template = Template.fromStack(stack);

    expect(policyStatements(template, SHARED_ROLE_PREFIX)).toEqual(expect.arrayContaining([
      expect.objectContaining({
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Build/), 'Arn'] },
      }),
    ]));
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceKind: 'Ecr', DestinationTag: 'main' });
  });

  test('fails on an ECR source without tag or digest, or with a bad digest', () => {
    const repo = ecr.Repository.fromRepositoryName(newStack(), 'R', 'build');
    expect(() => ImageSource.fromEcr(repo, {})).toThrow(/Invalid ImageSource.fromEcr props:\n {2}- tag: undefined is not allowed/);
    expect(() => ImageSource.fromEcr(repo, { digest: 'sha256:12' })).toThrow(/digest: "sha256:12" is not allowed/);
  });
});

describe('ImageSource.fromRegistry', () => {
  test('grants reading only the given secret and renders its ARN', () => {
    const stack = newStack();
    const secret = new secretsmanager.Secret(stack, 'HubLogin');
    new ImageSync(stack, 'Proxy', {
      source: ImageSource.fromRegistry('docker.io/library/nginx:1.27', { credentials: secret }),
      destination: destination(stack),
    });
    const template = Template.fromStack(stack);

    expect(policyStatements(template, SHARED_ROLE_PREFIX)).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: expect.arrayContaining(['secretsmanager:GetSecretValue']), Resource: { Ref: expect.stringMatching(/^HubLogin/) } }),
    ]));
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'Registry',
      SourceImage: 'docker.io/library/nginx:1.27',
      CredentialsSecretArn: { Ref: Match.stringLikeRegexp('^HubLogin') },
      DestinationTag: '1.27',
    });
  });

  test('accepts a registry reference known only at deploy time when the ImageSync names the tag', () => {
    const stack = newStack();
    const reference = new CfnParameter(stack, 'ProxyImage', { default: 'ghcr.io/acme/proxy:2.0.0' }).valueAsString;

    expect(() => new ImageSync(stack, 'Untagged', { source: ImageSource.fromRegistry(reference), destination: destination(stack) }))
      .toThrow(/tag: undefined is not allowed: a destination tag/);
    new ImageSync(stack, 'Proxy', { source: ImageSource.fromRegistry(reference), destination: destination(stack, 'Repo2'), tag: 'proxy' });
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceImage: { Ref: 'ProxyImage' }, DestinationTag: 'proxy' });
  });

  test.each([
    ['nginx:1.27', /it has no registry host/],
    ['ghcr.io/acme/app', /a reference with a tag or a digest/],
    ['ghcr.io/Acme/app:1', /is not allowed: lower-case components/],
  ])('fails on the registry reference %s', (reference, message) => {
    expect(() => ImageSource.fromRegistry(reference)).toThrow(message);
  });
});

describe('ImageSource', () => {
  test('is usable in an environment-agnostic stack', () => {
    const stack = new Stack(new App(), 'Agnostic');
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack) });
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceImage: `${TENANT_URI}:v1.2.3` });
  });
});
