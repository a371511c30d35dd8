import { CfnResource, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  newStack, policyStatements, ROLE_ARN, SHARED_ROLE_PREFIX, syncFunctionLogicalId, tenantSource,
} from './support/image-sync';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE, STACK_ID_ENV } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { ImageSyncProvider } from '../src/image-sync-provider';

function destination(stack: Stack, id = 'Repo'): ImageSyncDestination {
  return ImageSyncDestination.fromEcr((stack.node.tryFindChild(id) as ecr.IRepository | undefined) ?? new ecr.Repository(stack, id));
}

function isolatedVpc(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
}

describe('ImageSyncProvider', () => {
  test('runs one arm64 Node.js 24 function with a 14-minute timeout, 1024 MiB and its own log group', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack) });
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

  test('tells its function the stack it serves, whose events are the only ones it takes', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack) });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: { [STACK_ID_ENV]: { Ref: 'AWS::StackId' } } },
    });
  });

  test('wires the same function as the provider\'s onEvent and isComplete handler behind a waiter state machine', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack) });
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
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack) });
    new ImageSync(stack, 'Worker', { source: tenantSource(stack, { tag: 'v2' }), destination: destination(stack), tag: 'worker-v2' });
    const nested = new Stack(stack, 'Other');
    new ImageSync(nested, 'Api', { source: tenantSource(nested), destination: destination(nested) });
    const template = Template.fromStack(stack);

    template.resourceCountIs(IMAGE_SYNC_RESOURCE_TYPE, 2);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    syncFunctionLogicalId(template);
    const tokens = Object.values(template.findResources(IMAGE_SYNC_RESOURCE_TYPE)).map((r: any) => JSON.stringify(r.Properties.ServiceToken));
    expect(new Set(tokens).size).toBe(1);
    expect(ImageSyncProvider.of(stack)).toBe(ImageSyncProvider.of(stack.node.findChild('Api')));
    // Another stack gets its own.
    Template.fromStack(nested).resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('runs the ImageSyncs given a provider on its function, apart from the stack\'s shared one', () => {
    const stack = newStack();
    const big = new ImageSyncProvider(stack, 'BigSync', { memorySize: 2048, logRetention: logs.RetentionDays.ONE_YEAR });
    const api = new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack), provider: big });
    const worker = new ImageSync(stack, 'Worker', { source: tenantSource(stack, { tag: 'v2' }), destination: destination(stack), provider: big });
    const proxy = new ImageSync(stack, 'Proxy', { source: ImageSource.fromRegistry('docker.io/library/nginx:1.27'), destination: destination(stack) });
    const template = Template.fromStack(stack);

    expect(api.provider).toBe(big);
    expect(worker.syncFunction).toBe(big.function);
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', MemorySize: 2048 });
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', MemorySize: 1024 });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    const resources = template.findResources(IMAGE_SYNC_RESOURCE_TYPE);
    const tokenOf = (sync: ImageSync) => resources[stack.getLogicalId(sync.resource.node.defaultChild as CfnResource)].Properties.ServiceToken;
    expect(tokenOf(api)).toEqual(stack.resolve(big.serviceToken));
    expect(tokenOf(worker)).toEqual(stack.resolve(big.serviceToken));
    expect(tokenOf(proxy)).toEqual(stack.resolve(ImageSyncProvider.of(stack).serviceToken));
    expect(tokenOf(proxy)).not.toEqual(tokenOf(api));
  });

  test('lets the function assume only the named access role and push only to its destination', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromEcr(repo) });
    const template = Template.fromStack(stack);
    const statements = policyStatements(template, SHARED_ROLE_PREFIX);

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

  test('names its role for a tenant to trust, or runs the function with a given role', () => {
    const stack = newStack();
    const named = new ImageSyncProvider(stack, 'Named', { roleName: 'acme-byoc-image-sync' });
    const given = new iam.Role(stack, 'SyncRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const provider = new ImageSyncProvider(stack, 'Given', { role: given });
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack), provider });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'acme-byoc-image-sync' });
    expect(stack.resolve(named.role.roleArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^NamedRole/), 'Arn'] });
    expect(provider.role).toBe(given);
    expect(provider.node.tryFindChild('Role')).toBeUndefined();
    expect(policyStatements(template, 'SyncRole')).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: ROLE_ARN }),
      expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
    ]));
  });

  test('places the function in a VPC with the given subnets and security groups', () => {
    const stack = newStack();
    const vpc = isolatedVpc(stack);
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    const provider = new ImageSyncProvider(stack, 'Sync', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [sg] });
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack), provider });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Sg'), 'GroupId'] }], SubnetIds: Match.anyValue() },
    });
  });

  test('creates the VPC endpoints the function needs when asked, reachable from the function only', () => {
    const build = (withSecrets: boolean) => {
      const stack = newStack();
      const vpc = isolatedVpc(stack);
      const provider = new ImageSyncProvider(stack, 'Sync', { vpc, createVpcEndpoints: true });
      new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: destination(stack), provider });
      if (withSecrets) {
        for (const id of ['Hub', 'Hub2']) {
          new ImageSync(stack, id, {
            source: ImageSource.fromRegistry(`docker.io/library/${id.toLowerCase()}:1`, { credentials: new secretsmanager.Secret(stack, `${id}Login`) }),
            destination: destination(stack),
            provider,
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
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('SyncFunctionSecurityGroup'), 'GroupId'] },
    });
    const ours = new AwsSolutionsChecks().validateScope(stack).violations
      .filter((v) => v.violatingResources.some((r) => !/^Install\/(Vpc|HubLogin|Hub2Login)\//.test(r.constructPath ?? '')));
    expect(ours.map((v) => v.ruleName)).toEqual([]);
  });

  test('warns when the memory is below what a copy comfortably needs', () => {
    const stack = newStack();
    new ImageSyncProvider(stack, 'Small', { memorySize: 128 });
    Annotations.fromStack(stack).hasWarning('/Install/Small', Match.stringLikeRegexp('memorySize 128 MiB: a copy needs about 140 MiB'));
  });

  test('fails on createVpcEndpoints without a vpc', () => {
    expect(() => new ImageSyncProvider(newStack(), 'Sync', { createVpcEndpoints: true }))
      .toThrow(/createVpcEndpoints: true is not allowed: only with a vpc/);
  });

  test.each([
    ['too little memory', { memorySize: 127 }, /memorySize: 127 is not allowed: a whole number of MiB from 128 to 10240/],
    ['too much memory', { memorySize: 10241 }, /memorySize: 10241 is not allowed/],
    ['a fraction of a MiB', { memorySize: 1024.5 }, /memorySize: 1024.5 is not allowed: a whole number of MiB/],
    ['an unknown log retention', { logRetention: 2 }, /logRetention: 2 is not allowed: a logs.RetentionDays value/],
    ['a role name with a slash', { roleName: 'sync/role' }, /roleName: "sync\/role" is not allowed: a role name is 1-64 characters/],
  ])('fails on %s', (_name, props, message) => {
    expect(() => new ImageSyncProvider(newStack(), 'Sync', props as any)).toThrow(message);
  });

  test('fails with every provider problem in one message', () => {
    const stack = newStack();
    const role = new iam.Role(stack, 'Given', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => new ImageSyncProvider(stack, 'Sync', {
      memorySize: 0.5,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      createVpcEndpoints: true,
      role,
      roleName: 'named',
    })).toThrow(new RegExp([
      'Invalid ImageSyncProvider props:',
      '  - memorySize: 0.5 is not allowed: .*',
      '  - vpcSubnets: \\{"subnetType":"Isolated"\\} is not allowed: only with a vpc.*',
      '  - createVpcEndpoints: true is not allowed: only with a vpc.*',
      '  - roleName: "named" is not allowed: only without role.*',
    ].join('\n')));
    expect(stack.node.tryFindChild('Sync')?.node.children ?? []).toEqual([]);
  });
});
