import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { DockerImageName, ECRDeployment } from 'cdk-ecr-deployment';
import { loadEcrDeployment } from '../../src/private/ecr-deployment';
import { TenantRepository } from '../../src/tenant-repository';
import { ASSET_REPO_ARN, COMPONENT, newStack, PULL, PUSH, repoLogicalId } from '../support/tenant';

describe('cdk-ecr-deployment coupling', () => {
  test('runs the copy with one scoped role per stack: pull from the asset repository, pull and push on the destination', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.addImage('A', { directory: COMPONENT, tag: 'a' });
    repo.addImage('B', { directory: COMPONENT, tag: 'b', buildArgs: { COMPONENT_VERSION: '2' } });
    const template = Template.fromStack(stack);
    const id = repoLogicalId(template);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }] },
      ManagedPolicyArns: Match.absent(),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
          { Action: PULL, Effect: 'Allow', Resource: ASSET_REPO_ARN },
          { Action: [...PULL, ...PUSH], Effect: 'Allow', Resource: { 'Fn::GetAtt': [id, 'Arn'] } },
        ],
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      MemorySize: 1024,
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ByocArtifactsImageCopyRole'), 'Arn'] },
    });
  });

  test('lets the copy handler write only to its own log group, before any copy starts', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Repo').addImage('A', { directory: COMPONENT, tag: 'a' });
    const template = Template.fromStack(stack);
    const fnId = Object.keys(template.findResources('AWS::Lambda::Function'))[0];
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyDocument: { Statement: [Match.objectLike({ Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'] })] } },
    });
    const [logsId] = Object.keys(policies);
    expect(policies[logsId].Properties.PolicyDocument.Statement[0].Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:111111111111:log-group:/aws/lambda/', { Ref: fnId }, ':*']],
    });
    template.hasResource('Custom::CDKECRDeployment', { DependsOn: Match.arrayWith([logsId]) });
  });

  test('warns when another cdk-ecr-deployment handler of the stack already owns the singleton', () => {
    const stack = newStack();
    const other = new iam.Role(stack, 'OtherRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    new ECRDeployment(stack, 'Other', {
      src: new DockerImageName('public.ecr.aws/docker/library/alpine:3.20'),
      dest: new DockerImageName('111111111111.dkr.ecr.eu-west-1.amazonaws.com/x:1'),
      memoryLimit: 1024,
      role: other,
    });
    new TenantRepository(stack, 'Repo').addImage('A', { directory: COMPONENT, tag: 'a' });
    Annotations.fromStack(stack).hasWarning('/Tenant/Repo/A/Deployment', Match.stringLikeRegexp('already has a cdk-ecr-deployment handler'));
  });
});

describe('loadEcrDeployment', () => {
  test('loads cdk-ecr-deployment when it is installed', () => {
    expect(loadEcrDeployment().ECRDeployment).toBeDefined();
  });

  test('fails with how to install cdk-ecr-deployment when it is missing', () => {
    const missing = (name: string) => {
      throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
    };

    expect(() => loadEcrDeployment(missing)).toThrow(/optional peer dependency: install it next to cdk-byoc-artifacts, e\.g\. `npm install cdk-ecr-deployment@\^4\.2\.65`/);
  });

  test('fails with the original error when cdk-ecr-deployment is installed but broken', () => {
    const broken = () => {
      throw new SyntaxError('Unexpected token');
    };

    expect(() => loadEcrDeployment(broken)).toThrow(SyntaxError);
  });
});
