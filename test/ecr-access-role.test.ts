import { App, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EcrAccessRole, EcrAccessRoleProps } from '../src/ecr-access-role';
import { TenantRepository } from '../src/tenant-repository';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const PULL_SET = [
  'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage',
  'ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeRepositories',
];
const EXTERNAL_ID = 'tenant-acme:install-42';

function root(account: string) {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${account}:root`]] };
}

function setup(props: Partial<EcrAccessRoleProps> = {}) {
  const stack = new Stack(new App(), 'Tenant', { env: ENV });
  const repo = new TenantRepository(stack, 'Repo', { repositoryName: 'acme/api' });
  const role = new EcrAccessRole(stack, 'Access', {
    repositories: [repo.repository],
    trustedAccountIds: ['222222222222'],
    externalId: EXTERNAL_ID,
    ...props,
  });
  const template = Template.fromStack(stack);
  const repoId = Object.keys(template.findResources('AWS::ECR::Repository'))[0];
  return { stack, repo, role, template, repoId };
}

function trust(template: Template): any[] {
  const roles = Object.values(template.findResources('AWS::IAM::Role')) as any[];
  expect(roles).toHaveLength(1);
  return roles[0].Properties.AssumeRolePolicyDocument.Statement;
}

describe('EcrAccessRole', () => {
  test('allows exactly the pull set on the repositories and the login token on *', () => {
    const { template, repoId } = setup();
    template.hasResourceProperties('AWS::IAM::Role', {
      Policies: [{
        PolicyName: 'EcrPull',
        PolicyDocument: {
          Statement: [
            { Sid: 'PullComponentImages', Effect: 'Allow', Action: PULL_SET, Resource: { 'Fn::GetAtt': [repoId, 'Arn'] } },
            { Sid: 'RegistryLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
          ],
        },
      }],
      ManagedPolicyArns: Match.absent(),
    });
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('trusts the named accounts with sts:AssumeRole and sts:TagSession only with the external id', () => {
    const { template } = setup({ trustedAccountIds: ['222222222222', '333333333333'] });
    expect(trust(template)).toEqual([
      {
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Principal: { AWS: root('222222222222') },
        Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
      },
      {
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Principal: { AWS: root('333333333333') },
        Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
      },
    ]);
  });

  test('trusts role ARNs and IPrincipals, each with the external id', () => {
    const { template } = setup({
      trustedAccountIds: [],
      trustedRoleArns: ['arn:aws:iam::444444444444:role/byoc/sync'],
      trustedPrincipals: [new iam.ArnPrincipal('arn:aws:iam::555555555555:role/other')],
    });
    const statements = trust(template);
    expect(statements.map((s) => s.Principal.AWS)).toEqual([
      'arn:aws:iam::444444444444:role/byoc/sync',
      'arn:aws:iam::555555555555:role/other',
    ]);
    for (const s of statements) {
      expect(s.Condition).toEqual({ StringEquals: { 'sts:ExternalId': EXTERNAL_ID } });
      expect(s.Action).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    }
  });

  test('adds the organization condition when asked', () => {
    const { template } = setup({ principalOrgId: 'o-a1b2c3d4e5' });
    expect(trust(template)[0].Condition).toEqual({
      StringEquals: { 'sts:ExternalId': EXTERNAL_ID, 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' },
    });
  });

  test('names no principal twice', () => {
    const { template } = setup({ trustedAccountIds: ['222222222222', '222222222222'] });
    expect(trust(template)).toHaveLength(1);
  });

  test('allows one-hour sessions by default and the asked duration otherwise', () => {
    setup().template.hasResourceProperties('AWS::IAM::Role', { MaxSessionDuration: 3600 });
    setup({ maxSessionDuration: Duration.hours(12) }).template.hasResourceProperties('AWS::IAM::Role', { MaxSessionDuration: 43200 });
  });

  test('names the role when asked', () => {
    const { template, role, stack } = setup({ roleName: 'acme-ecr-pull' });
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'acme-ecr-pull' });
    expect(stack.resolve(role.roleName)).toEqual({ Ref: Object.keys(template.findResources('AWS::IAM::Role'))[0] });
  });

  test('exposes the role, its ARN and the external id', () => {
    const { role, stack, template } = setup();
    const roleId = Object.keys(template.findResources('AWS::IAM::Role'))[0];
    expect(stack.resolve(role.roleArn)).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(role.role).toBeInstanceOf(iam.Role);
    expect(role.externalId).toBe(EXTERNAL_ID);
  });

  test('pulls from every repository of the props and from added ones', () => {
    const stack = new Stack(new App(), 'Tenant', { env: ENV });
    const a = new TenantRepository(stack, 'A');
    const b = ecr.Repository.fromRepositoryName(stack, 'B', 'acme/web');
    const role = new EcrAccessRole(stack, 'Access', { repositories: [a.repository, b], trustedAccountIds: ['222222222222'], externalId: EXTERNAL_ID });
    role.addRepository(ecr.Repository.fromRepositoryName(stack, 'C', 'acme/worker'));
    const template = Template.fromStack(stack);
    const arn = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ecr:eu-west-1:111111111111:repository/${name}`]] });
    template.hasResourceProperties('AWS::IAM::Role', {
      Policies: [{
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({
            Action: PULL_SET,
            Resource: [{ 'Fn::GetAtt': [Object.keys(template.findResources('AWS::ECR::Repository'))[0], 'Arn'] }, arn('acme/web'), arn('acme/worker')],
          })]),
        },
      }],
    });
  });

  test('grants no action wildcard and "*" only for the registry login token', () => {
    const { template } = setup();
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0] as any;
    const statements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    for (const s of statements) {
      for (const action of [s.Action].flat()) expect(action).not.toContain('*');
      if ([s.Resource].flat().includes('*')) expect(s.Action).toBe('ecr:GetAuthorizationToken');
    }
  });

  test('passes the cdk-nag AwsSolutions checks with its own acknowledgement', () => {
    const { stack } = setup();
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});

describe('EcrAccessRole validation', () => {
  const stack = () => new Stack(new App(), 'Tenant', { env: ENV });
  const repo = (s: Stack) => ecr.Repository.fromRepositoryName(s, 'R', 'acme/api');
  const build = (props: Partial<EcrAccessRoleProps>) => () => {
    const s = stack();
    return new EcrAccessRole(s, 'Access', {
      repositories: [repo(s)],
      trustedAccountIds: ['222222222222'],
      externalId: EXTERNAL_ID,
      ...props,
    } as EcrAccessRoleProps);
  };

  test.each<[string, Partial<EcrAccessRoleProps>, string]>([
    ['no repositories', { repositories: [] }, 'repositories: [] is not allowed: at least one element is required'],
    ['an account id', { trustedAccountIds: ['2222'] }, 'trustedAccountIds[0]: "2222" is not allowed: an AWS account id is exactly 12 digits'],
    ['a role ARN', { trustedRoleArns: ['arn:aws:iam::444444444444:user/bob'] },
      'trustedRoleArns[0]: "arn:aws:iam::444444444444:user/bob" is not allowed: an IAM role ARN'],
    ['no principal', { trustedAccountIds: [] },
      'trustedAccountIds, trustedRoleArns, trustedPrincipals: [] is not allowed: at least one trusted principal in total'],
    ['a missing external id', { externalId: undefined }, 'externalId: undefined is not allowed: an external id is required'],
    ['a short external id', { externalId: 'x' }, 'externalId: "x" is not allowed: an external id is 2-1224 characters'],
    ['an external id with spaces', { externalId: 'has space' }, 'externalId: "has space" is not allowed'],
    ['an organization id', { principalOrgId: 'acme' }, 'principalOrgId: "acme" is not allowed: an organization id is "o-"'],
    ['a too short session', { maxSessionDuration: Duration.minutes(15) }, 'maxSessionDuration: "15 minutes" is not allowed: between 1 and 12 hours'],
    ['a too long session', { maxSessionDuration: Duration.hours(13) }, 'maxSessionDuration: "13 hours" is not allowed: between 1 and 12 hours'],
    ['a role name', { roleName: 'no/slashes' }, 'roleName: "no/slashes" is not allowed: a role name is 1-64 characters'],
  ])('fails on %s naming prop, value and what is allowed', (_name, props, message) => {
    expect(build(props)).toThrow(`Invalid EcrAccessRole props:\n  - ${message}`);
  });

  test('fails with every problem in one message', () => {
    expect(build({ repositories: [], externalId: 'x', trustedAccountIds: ['1'] })).toThrow(
      /repositories: \[\].*\n {2}- externalId: "x".*\n {2}- trustedAccountIds\[0\]: "1"/,
    );
  });

  test('lets tokens through unvalidated', () => {
    const token = (v: string) => Lazy.string({ produce: () => v });
    expect(build({
      trustedAccountIds: [token('no')],
      trustedRoleArns: [token('no')],
      externalId: token('x'),
      principalOrgId: token('no'),
      roleName: token('no/no'),
    })).not.toThrow();
  });
});
