import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ImageSource, ImageSync, ImageSyncDestination } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { InstallRepository } from '../src/install-repository';

const TENANT_URI = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/acme/api';
const TENANT_ARN = 'arn:aws:ecr:eu-west-1:111122223333:repository/acme/api';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/acme-ecr-access';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function newStack(): Stack {
  return new Stack(new App(), 'Install', { env: { account: '444455556666', region: 'eu-west-1' } });
}

function tenantSource(extra: { tag?: string; digest?: string } = { tag: 'v1.2.3' }): ImageSource {
  return ImageSource.fromTenantEcr({ repositoryUri: TENANT_URI, accessRoleArn: ROLE_ARN, externalId: 'install-acme-42', ...extra });
}

function syncFunctionLogicalId(template: Template): string {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } });
  const ids = Object.keys(fns);
  expect(ids).toHaveLength(1);
  return ids[0];
}

function policyStatements(template: Template, roleLogicalIdPrefix: string): any[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref?.startsWith(roleLogicalIdPrefix)))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

describe('ImageSync', () => {
  test('renders a Custom::ImageSync with the tenant source, the destination and the default tag', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo', { repositoryName: 'install/api' });
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(repo), releaseId: 'r-2026.11' });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      ServiceToken: Match.anyValue(),
      SourceKind: 'TenantEcr',
      SourceImage: `${TENANT_URI}:v1.2.3`,
      SourceRepositoryArn: TENANT_ARN,
      AccessRoleArn: ROLE_ARN,
      ExternalId: 'install-acme-42',
      DestinationRepositoryUri: Match.anyValue(),
      DestinationRepositoryName: { Ref: Match.stringLikeRegexp('^Repo') },
      DestinationTag: 'v1.2.3',
      ReleaseId: 'r-2026.11',
      RemoveOnDelete: 'false',
      TotalTimeoutSeconds: '3600',
    });
  });

  test('derives the tenant repository URI from its ARN and pins a digest source', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ImageSync(stack, 'Api', {
      source: ImageSource.fromTenantEcr({ repositoryArn: TENANT_ARN, digest: DIGEST, accessRoleArn: ROLE_ARN, externalId: 'x-1' }),
      destination: ImageSyncDestination.repository(repo),
      tag: 'release-7',
      platforms: ['linux/arm64'],
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceImage: `${TENANT_URI}@${DIGEST}`,
      SourceRepositoryArn: TENANT_ARN,
      DestinationTag: 'release-7',
      Platforms: ['linux/arm64'],
    });
  });

  test('runs one arm64 Node.js 24 function with a 14-minute timeout, 1024 MiB and its own log group', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')) });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 840,
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('ImageSyncProviderLogs') } }),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  test('wires the same function as the provider\'s onEvent and isComplete handler behind a waiter state machine', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')) });
    const template = Template.fromStack(stack);
    const fnId = syncFunctionLogicalId(template);

    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'framework.onEvent',
      Environment: {
        Variables: Match.objectLike({
          USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [fnId, 'Arn'] },
          USER_IS_COMPLETE_FUNCTION_ARN: { 'Fn::GetAtt': [fnId, 'Arn'] },
          WAITER_STATE_MACHINE_ARN: Match.anyValue(),
        }),
      },
    });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    // 10-second polls for the provider's one-hour ceiling.
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":10');
    expect(definition).toContain('\\"MaxAttempts\\":360');
    expect(machine.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
  });

  test('shares one function and one provider between every ImageSync of a stack', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(repo), memorySize: 2048 });
    new ImageSync(stack, 'Worker', { source: tenantSource({ tag: 'v2' }), destination: ImageSyncDestination.repository(repo), tag: 'worker-v2' });
    const nested = new Stack(stack, 'Other');
    new ImageSync(nested, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(new ecr.Repository(nested, 'Repo')) });
    const template = Template.fromStack(stack);

    template.resourceCountIs(IMAGE_SYNC_RESOURCE_TYPE, 2);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    syncFunctionLogicalId(template);
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', MemorySize: 2048 });
    const tokens = Object.values(template.findResources(IMAGE_SYNC_RESOURCE_TYPE)).map((r: any) => JSON.stringify(r.Properties.ServiceToken));
    expect(new Set(tokens).size).toBe(1);
    // Another stack gets its own.
    Template.fromStack(nested).resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('fails when two ImageSyncs of a stack ask for different function settings', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(repo), memorySize: 2048 });

    expect(() => new ImageSync(stack, 'Worker', { source: tenantSource(), destination: ImageSyncDestination.repository(repo), memorySize: 512 }))
      .toThrow(/ImageSync Install\/Worker: memorySize differ from Install\/Api, the first ImageSync of stack Install, which created the function/);
  });

  test('accepts the same VPC settings given as separate but equal objects on every ImageSync', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    for (const id of ['Api', 'Worker']) {
      new ImageSync(stack, id, {
        source: tenantSource(),
        destination: ImageSyncDestination.repository(repo),
        tag: id.toLowerCase(),
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      });
    }

    Template.fromStack(stack).resourceCountIs(IMAGE_SYNC_RESOURCE_TYPE, 2);
  });

  test('lets the function assume only the named access role and push only to its destination', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(repo) });
    const template = Template.fromStack(stack);
    const statements = policyStatements(template, 'cdkbyocartifactsImageSyncProviderRole');

    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['sts:AssumeRole', 'sts:TagSession'], Effect: 'Allow', Resource: ROLE_ARN }),
      expect.objectContaining({ Action: 'ecr:GetAuthorizationToken', Resource: '*' }),
      expect.objectContaining({
        Action: expect.arrayContaining(['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:BatchGetImage']),
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Repo/), 'Arn'] },
      }),
    ]));
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).not.toContain('ecr:BatchDeleteImage');
    expect(actions.filter((a) => a.startsWith('sts:'))).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    // No logs:* on every log group: only its own group.
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/Logs/), 'Arn'] } }),
    ]));
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  test('makes the function the install repository\'s exempt writer, with pull for its existence checks', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Install');
    new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.installRepository(repo) });
    const template = Template.fromStack(stack);
    const roleId = Object.keys(template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] }, Description: Match.stringLikeRegexp('ImageSync') },
    }))[0];

    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Action: Match.arrayWith(['ecr:PutImage', 'ecr:BatchDeleteImage']),
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [roleId, 'Arn'] } } },
        })]),
      },
    });
    const actions = policyStatements(template, 'cdkbyocartifactsImageSyncProviderRole').flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['ecr:PutImage', 'ecr:CompleteLayerUpload', 'ecr:BatchGetImage', 'ecr:BatchCheckLayerAvailability']));
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { DestinationRepositoryName: { Ref: Match.stringLikeRegexp('^Install') } });
  });

  test('grants tag removal and secret reads only when asked for', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const secret = new secretsmanager.Secret(stack, 'HubLogin');
    new ImageSync(stack, 'Proxy', {
      source: ImageSource.fromRegistry('docker.io/library/nginx:1.27', { credentials: secret }),
      destination: ImageSyncDestination.repository(repo),
      removeOnDelete: true,
    });
    const template = Template.fromStack(stack);
    const statements = policyStatements(template, 'cdkbyocartifactsImageSyncProviderRole');

    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['ecr:DescribeImages', 'ecr:BatchDeleteImage'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Repo/), 'Arn'] } }),
      expect.objectContaining({ Action: expect.arrayContaining(['secretsmanager:GetSecretValue']), Resource: { Ref: expect.stringMatching(/^HubLogin/) } }),
    ]));
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'Registry',
      SourceImage: 'docker.io/library/nginx:1.27',
      CredentialsSecretArn: { Ref: Match.stringLikeRegexp('^HubLogin') },
      DestinationTag: '1.27',
      RemoveOnDelete: 'true',
    });
  });

  test('grants pull on a same-account source repository', () => {
    const stack = newStack();
    const source = new ecr.Repository(stack, 'Build');
    new ImageSync(stack, 'Api', { source: ImageSource.fromEcr(source, { tag: 'main' }), destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')) });
    const template = Template.fromStack(stack);

    expect(policyStatements(template, 'cdkbyocartifactsImageSyncProviderRole')).toEqual(expect.arrayContaining([
      expect.objectContaining({
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Build/), 'Arn'] },
      }),
    ]));
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceKind: 'Ecr', DestinationTag: 'main' });
  });

  test('grants pull on the destination to other consumers', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Install');
    const sync = new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.installRepository(repo) });
    const nodes = new iam.Role(stack, 'Nodes', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    sync.grantPull(nodes);

    const statements = policyStatements(Template.fromStack(stack), 'Nodes');
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'] }),
    ]));
    expect(statements.flatMap((st) => [st.Action].flat())).not.toContain('ecr:PutImage');
  });

  test('exposes the copy\'s attributes and a digest-pinned container image that grants pull', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const sync = new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(repo) });
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    task.addContainer('api', { image: sync.containerImage() });
    const template = Template.fromStack(stack);
    const syncId = Object.keys(template.findResources(IMAGE_SYNC_RESOURCE_TYPE))[0];

    expect(stack.resolve(sync.imageDigest)).toEqual({ 'Fn::GetAtt': [syncId, 'ImageDigest'] });
    expect(stack.resolve(sync.imageUri)).toEqual({ 'Fn::GetAtt': [syncId, 'ImageUri'] });
    expect(stack.resolve(sync.imageTag)).toEqual({ 'Fn::GetAtt': [syncId, 'ImageTag'] });
    expect(stack.resolve(sync.repositoryUri)).toEqual({ 'Fn::GetAtt': [syncId, 'RepositoryUri'] });
    const image = JSON.stringify(template.findResources('AWS::ECS::TaskDefinition'));
    expect(image).toContain(`"@",{"Fn::GetAtt":["${syncId}","ImageDigest"]}`);
    const executionPolicies = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref.startsWith('TaskExecutionRole')));
    expect(JSON.stringify(executionPolicies)).toContain('ecr:BatchGetImage');
  });

  test('places the function in a VPC with the given subnets and security groups', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    new ImageSync(stack, 'Api', {
      source: tenantSource(),
      destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [sg],
    });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Sg'), 'GroupId'] }], SubnetIds: Match.anyValue() },
    });
  });

  test('creates the VPC endpoints the function needs when asked, reachable from the function only', () => {
    const build = (withSecrets: boolean) => {
      const stack = newStack();
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      const repo = new ecr.Repository(stack, 'Repo', { imageScanOnPush: true });
      new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(repo), vpc, createVpcEndpoints: true });
      if (withSecrets) {
        for (const id of ['Hub', 'Hub2']) {
          new ImageSync(stack, id, {
            source: ImageSource.fromRegistry(`docker.io/library/${id.toLowerCase()}:1`, { credentials: new secretsmanager.Secret(stack, `${id}Login`) }),
            destination: ImageSyncDestination.repository(repo),
          });
        }
      }
      return stack;
    };
    const services = (stack: Stack) => Object.values(Template.fromStack(stack).findResources('AWS::EC2::VPCEndpoint'))
      .map((r: any) => JSON.stringify(r.Properties.ServiceName).match(/(ecr\.api|ecr\.dkr|sts|s3|secretsmanager)/)![1]).sort();

    expect(services(build(false))).toEqual(['ecr.api', 'ecr.dkr', 's3', 'sts']);
    const stack = build(true);
    expect(services(stack)).toEqual(['ecr.api', 'ecr.dkr', 's3', 'secretsmanager', 'sts']);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Interface', PrivateDnsEnabled: true, ServiceName: Match.stringLikeRegexp('ecr.dkr') });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ImageSyncProviderFunctionSecurityGroup'), 'GroupId'] },
    });
    const ours = new AwsSolutionsChecks().validateScope(stack).violations
      .filter((v) => v.violatingResources.some((r) => !/^Install\/(Vpc|HubLogin|Hub2Login)\//.test(r.constructPath ?? '')));
    expect(ours.map((v) => v.ruleName)).toEqual([]);
  });

  test('fails on createVpcEndpoints without a vpc', () => {
    const stack = newStack();
    expect(() => new ImageSync(stack, 'Api', { source: tenantSource(), destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')), createVpcEndpoints: true }))
      .toThrow(/createVpcEndpoints: true is not allowed: only with a vpc/);
  });

  test('passes cdk-nag AwsSolutions with every source kind, in and out of a VPC', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Repo');
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const build = new ecr.Repository(stack, 'Build', { imageScanOnPush: true });
    new ImageSync(stack, 'Tenant', { source: tenantSource(), destination: ImageSyncDestination.installRepository(repo), vpc, removeOnDelete: true });
    new ImageSync(stack, 'Local', { source: ImageSource.fromEcr(build, { tag: 'main' }), destination: ImageSyncDestination.repository(build), tag: 'copy' });
    new ImageSync(stack, 'Hub', {
      source: ImageSource.fromRegistry('docker.io/library/nginx:1.27', { credentials: secretsmanager.Secret.fromSecretNameV2(stack, 'Login', 'hub-login') }),
      destination: ImageSyncDestination.installRepository(repo),
    });
    const report = new AwsSolutionsChecks().validateScope(stack);

    // Only findings caused by what this test builds outside ImageSync are allowed (the test VPC's flow logs).
    const foreign = (v: any) => v.violatingResources.every((r: any) => /^Install\/Vpc\//.test(r.constructPath ?? '') || /^Vpc/.test(r.resourceLogicalId ?? ''));
    const ours = report.violations.filter((v) => !foreign(v));
    expect(ours.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`)).toEqual([]);
  });

  test.each([
    ['a digest-only source without a destination tag', () => ({ source: tenantSource({ digest: DIGEST }) }), /tag: undefined is not allowed: a destination tag/],
    ['a bad destination tag', () => ({ source: tenantSource(), tag: '-bad' }), /tag: "-bad" is not allowed/],
    ['a bad platform', () => ({ source: tenantSource(), platforms: ['arm64'] }), /platforms: "arm64" is not allowed/],
    ['an empty platform list', () => ({ source: tenantSource(), platforms: [] }), /platforms: \[\] is not allowed: at least one platform/],
    ['a release id with spaces', () => ({ source: tenantSource(), releaseId: 'release 1' }), /releaseId: "release 1" is not allowed/],
    ['a two-hour budget', () => ({ source: tenantSource(), totalTimeout: Duration.hours(2) }), /totalTimeout: "7200 seconds" is not allowed: between 5 minutes and 1 hour/],
    ['too little memory', () => ({ source: tenantSource(), memorySize: 128 }), /memorySize: 128 is not allowed/],
  ])('fails on %s', (_name, props, message) => {
    const stack = newStack();
    expect(() => new ImageSync(stack, 'Api', { destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')), ...(props() as any) }))
      .toThrow(message);
  });
});

describe('ImageSource', () => {
  test('accepts a registry reference known only at deploy time when the ImageSync names the tag', () => {
    const stack = newStack();
    const reference = new CfnParameter(stack, 'ProxyImage', { default: 'ghcr.io/acme/proxy:2.0.0' }).valueAsString;

    expect(() => new ImageSync(stack, 'Untagged', { source: ImageSource.fromRegistry(reference), destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')) }))
      .toThrow(/tag: undefined is not allowed: a destination tag/);
    new ImageSync(stack, 'Proxy', { source: ImageSource.fromRegistry(reference), destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo2')), tag: 'proxy' });
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceImage: { Ref: 'ProxyImage' }, DestinationTag: 'proxy' });
  });

  test('fails on a tenant repository given as a token without its literal counterpart, and accepts both as tokens', () => {
    const stack = newStack();
    const uri = new CfnParameter(stack, 'Uri').valueAsString;
    const arn = new CfnParameter(stack, 'Arn').valueAsString;

    expect(() => ImageSource.fromTenantEcr({ repositoryUri: uri, tag: 'v1', accessRoleArn: ROLE_ARN, externalId: 'ext-1' }))
      .toThrow(/repositoryUri: .* is not allowed: a literal URI when repositoryArn is not given/);
    expect(() => ImageSource.fromTenantEcr({ repositoryArn: arn, tag: 'v1', accessRoleArn: ROLE_ARN, externalId: 'ext-1' }))
      .toThrow(/repositoryArn: .* is not allowed: a literal ARN when repositoryUri is not given/);
    new ImageSync(stack, 'Api', {
      source: ImageSource.fromTenantEcr({ repositoryUri: uri, repositoryArn: arn, tag: 'v1', accessRoleArn: ROLE_ARN, externalId: 'ext-1' }),
      destination: ImageSyncDestination.repository(new ecr.Repository(stack, 'Repo')),
    });
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceImage: { 'Fn::Join': ['', [{ Ref: 'Uri' }, ':v1']] },
      SourceRepositoryArn: { Ref: 'Arn' },
    });
  });

  test('fails on a tenant source without an external id', () => {
    expect(() => ImageSource.fromTenantEcr({ repositoryUri: TENANT_URI, tag: 'v1', accessRoleArn: ROLE_ARN } as any))
      .toThrow(/externalId: undefined is not allowed: the external id of the access role is required/);
  });

  test('fails on every bad tenant source prop at once', () => {
    expect(() => ImageSource.fromTenantEcr({ repositoryUri: 'ghcr.io/acme/api', tag: '.x', accessRoleArn: 'arn:aws:iam::1:user/x', externalId: 'x' }))
      .toThrow(new RegExp([
        'Invalid ImageSource.fromTenantEcr props:',
        '  - tag: ".x" is not allowed.*',
        '  - accessRoleArn: "arn:aws:iam::1:user/x" is not allowed.*',
        '  - externalId: "x" is not allowed.*',
        '  - repositoryUri: "ghcr.io/acme/api" is not allowed: an ECR repository URI.*',
      ].join('\n')));
  });

  test('fails on a tenant source without repository, tag or digest', () => {
    expect(() => ImageSource.fromTenantEcr({ accessRoleArn: ROLE_ARN, externalId: 'abc' }))
      .toThrow(/tag: undefined is not allowed: a tag or a digest[\s\S]*repositoryUri: undefined is not allowed: give the tenant repository/);
  });

  test('fails on an ECR source without tag or digest, or with a bad digest', () => {
    const repo = ecr.Repository.fromRepositoryName(newStack(), 'R', 'build');
    expect(() => ImageSource.fromEcr(repo, {})).toThrow(/Invalid ImageSource.fromEcr props:\n {2}- tag: undefined is not allowed/);
    expect(() => ImageSource.fromEcr(repo, { digest: 'sha256:12' })).toThrow(/digest: "sha256:12" is not allowed/);
  });

  test.each([
    ['nginx:1.27', /it has no registry host/],
    ['ghcr.io/acme/app', /a reference with a tag or a digest/],
    ['ghcr.io/Acme/app:1', /is not allowed: lower-case components/],
  ])('fails on the registry reference %s', (reference, message) => {
    expect(() => ImageSource.fromRegistry(reference)).toThrow(message);
  });
});
