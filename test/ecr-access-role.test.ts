import { App, Duration, Lazy, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EcrAccessRole, EcrAccessRoleProps } from '../src/ecr-access-role';
import { SESSION_TAG_KEYS } from '../src/image-sync-contract';
import { sessionTags } from '../src/image-sync-handler/credentials';
import { TenantRepository } from '../src/tenant-repository';

const ENV = { account: '111111111111', region: 'eu-west-1' };
const PULL_SET = [
  'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage',
  'ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeRepositories',
];
const EXTERNAL_ID = 'tenant-acme:install-42';
const LONG_ID = 'acme-byoc-7f3c9a1e0b2d';

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

  test('trusts the named accounts in one sts:AssumeRole statement with the external id', () => {
    const { template } = setup({ trustedAccountIds: ['222222222222', '333333333333'] });
    expect(trust(template)).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { AWS: ['222222222222', '333333333333'] },
        Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
      },
      {
        Effect: 'Allow',
        Action: 'sts:TagSession',
        Principal: { AWS: ['222222222222', '333333333333'] },
        Condition: {
          'StringEquals': { 'sts:ExternalId': EXTERNAL_ID },
          'ForAllValues:StringEquals': { 'aws:TagKeys': 'ReleaseId' },
        },
      },
    ]);
  });

  test.each([true, false])('renders one statement pair whatever @aws-cdk/aws-iam:minimizePolicies (%s) says', (minimize) => {
    const stack = new Stack(new App({ context: { '@aws-cdk/aws-iam:minimizePolicies': minimize } }), 'Tenant', { env: ENV });
    new EcrAccessRole(stack, 'Access', {
      repositories: [ecr.Repository.fromRepositoryName(stack, 'R', 'acme/api')],
      trustedAccountIds: Array.from({ length: 11 }, (_, i) => `2222222222${String(i).padStart(2, '0')}`),
      externalId: EXTERNAL_ID,
    });
    const statements = trust(Template.fromStack(stack));
    expect(statements.map((s) => s.Action)).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    expect(statements[0].Principal.AWS).toHaveLength(11);
  });

  test('allows sts:TagSession only for the session tag keys the sync sets', () => {
    const tagStatement = trust(setup().template).find((s) => s.Action === 'sts:TagSession');
    expect(tagStatement.Condition['ForAllValues:StringEquals']).toEqual({ 'aws:TagKeys': SESSION_TAG_KEYS.length === 1 ? SESSION_TAG_KEYS[0] : SESSION_TAG_KEYS });
    const sent = sessionTags('2026.11.1')!.map((t) => t.key);
    expect(SESSION_TAG_KEYS).toEqual(expect.arrayContaining(sent));
  });

  test('trusts role ARNs and IPrincipals, each with the external id', () => {
    const { template } = setup({
      trustedAccountIds: [],
      trustedRoleArns: ['arn:aws:iam::444444444444:role/byoc/sync'],
      trustedPrincipals: [new iam.ArnPrincipal('arn:aws:iam::555555555555:role/other'), new iam.AccountPrincipal('666666666666')],
    });
    const statements = trust(template);
    expect(statements).toHaveLength(2);
    for (const s of statements) {
      expect(s.Principal.AWS).toEqual(['arn:aws:iam::444444444444:role/byoc/sync', 'arn:aws:iam::555555555555:role/other', '666666666666']);
      expect(s.Condition.StringEquals).toEqual({ 'sts:ExternalId': EXTERNAL_ID });
    }
  });

  test('gives an install with its own external id statements of its own', () => {
    const { template, role } = setup({
      trustedInstalls: [
        { accountId: '333333333333', externalId: 'acme-install-333-5f1e9c' },
        { accountId: '444444444444', roleArn: 'arn:aws:iam::444444444444:role/byoc-image-sync' },
      ],
    });
    const statements = trust(template);
    expect(statements.map((s) => [s.Action, s.Principal.AWS, s.Condition.StringEquals['sts:ExternalId']])).toEqual([
      ['sts:AssumeRole', ['222222222222', 'arn:aws:iam::444444444444:role/byoc-image-sync'], EXTERNAL_ID],
      ['sts:TagSession', ['222222222222', 'arn:aws:iam::444444444444:role/byoc-image-sync'], EXTERNAL_ID],
      ['sts:AssumeRole', '333333333333', 'acme-install-333-5f1e9c'],
      ['sts:TagSession', '333333333333', 'acme-install-333-5f1e9c'],
    ]);
    expect(role.accessFor('333333333333').externalId).toBe('acme-install-333-5f1e9c');
    expect(role.accessFor('444444444444').externalId).toBe(EXTERNAL_ID);
  });

  test('trusts a principal of "*" only with the organization condition', () => {
    const { template } = setup({ trustedAccountIds: [], trustedPrincipals: [new iam.AnyPrincipal()], principalOrgId: 'o-a1b2c3d4e5' });
    for (const s of trust(template)) {
      expect(s.Principal.AWS).toBe('*');
      expect(s.Condition.StringEquals).toEqual({ 'sts:ExternalId': EXTERNAL_ID, 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' });
    }
  });

  test('names no principal twice', () => {
    const { template } = setup({ trustedAccountIds: ['222222222222', '222222222222'], trustedInstalls: [{ accountId: '222222222222' }] });
    expect(trust(template).map((s) => s.Principal.AWS)).toEqual(['222222222222', '222222222222']);
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
      'trustedAccountIds, trustedRoleArns, trustedPrincipals, trustedInstalls: [] is not allowed: at least one trusted principal in total'],
    ['a missing external id', { externalId: undefined }, 'externalId: undefined is not allowed: an external id is required'],
    ['a short external id', { externalId: 'x' }, 'externalId: "x" is not allowed: an external id is 2-1224 characters'],
    ['an external id under 16 characters', { externalId: 'acme-prod' },
      'externalId: "acme-prod" is not allowed: at least 16 characters: the external id is not a secret (it is in every install\'s template'],
    ['a per-install external id under 16 characters', { trustedInstalls: [{ accountId: '333333333333', externalId: 'short-id' }] },
      'trustedInstalls[0].externalId: "short-id" is not allowed: at least 16 characters'],
    ['"*" in trustedAccountIds without an organization', { trustedAccountIds: ['*'] },
      'trustedAccountIds[0]: "*" is not allowed: a principal of "*" lets any AWS account assume the role; allowed only with principalOrgId'],
    ['"*" in trustedRoleArns without an organization', { trustedRoleArns: ['*'] }, 'trustedRoleArns[0]: "*" is not allowed: a principal of "*"'],
    ['AnyPrincipal without an organization', { trustedPrincipals: [new iam.AnyPrincipal()] }, 'trustedPrincipals[0]: "AnyPrincipal()" is not allowed: a principal of "*"'],
    ['StarPrincipal without an organization', { trustedPrincipals: [new iam.StarPrincipal()] }, 'trustedPrincipals[0]: "StarPrincipal()" is not allowed: a principal of "*"'],
    ['ArnPrincipal("*") without an organization', { trustedPrincipals: [new iam.ArnPrincipal('*')] }, 'trustedPrincipals[0]: "ArnPrincipal(*)" is not allowed: a principal of "*"'],
    ['a principal with conditions of its own', { trustedPrincipals: [new iam.OrganizationPrincipal('o-a1b2c3d4e5')] },
      'trustedPrincipals[0]: "OrganizationPrincipal(o-a1b2c3d4e5)" is not allowed: a principal without conditions of its own (for an organization, set principalOrgId and trust iam.AnyPrincipal)'],
    ['a service principal', { trustedPrincipals: [new iam.ServicePrincipal('lambda.amazonaws.com')] },
      'trustedPrincipals[0]: "ServicePrincipal(lambda.amazonaws.com)" is not allowed: an AWS principal (an account, role or user); a Service principal cannot present an external id'],
    ['an install role of another account', { trustedInstalls: [{ accountId: '333333333333', roleArn: 'arn:aws:iam::444444444444:role/sync' }] },
      'trustedInstalls[0].roleArn: "arn:aws:iam::444444444444:role/sync" is not allowed: a role of the install\'s account 333333333333'],
    ['an install listed twice', { trustedInstalls: [{ accountId: '333333333333' }, { accountId: '333333333333', revoked: true }] },
      'trustedInstalls[1].accountId: "333333333333" is not allowed: each account once in trustedInstalls'],
    ['a quota under the default', { trustPolicySizeQuota: 1024 }, 'trustPolicySizeQuota: 1024 is not allowed: IAM\'s role trust policy length quota of the account: a whole number from 2048 (the default) to 4096'],
    ['a quota over the maximum', { trustPolicySizeQuota: 8192 }, 'trustPolicySizeQuota: 8192 is not allowed'],
    ['sharding without a role name', { trustedAccountIds: [], trustedInstalls: [{ accountId: '333333333333' }], installsPerRole: 10 },
      'roleName: undefined is not allowed: a role name prefix with installsPerRole'],
    ['sharding with other principal lists', { trustedInstalls: [{ accountId: '333333333333' }], installsPerRole: 10, roleName: 'acme-pull' },
      'trustedAccountIds, trustedRoleArns, trustedPrincipals: "1 principals" is not allowed: none with installsPerRole: list every install in trustedInstalls'],
    ['a fractional installsPerRole', { trustedAccountIds: [], trustedInstalls: [{ accountId: '333333333333' }], installsPerRole: 1.5, roleName: 'acme-pull' },
      'installsPerRole: 1.5 is not allowed: a whole number of installs per role, at least 1'],
    ['an external id with spaces', { externalId: 'has space' }, 'externalId: "has space" is not allowed'],
    ['an organization id', { principalOrgId: 'acme' }, 'principalOrgId: "acme" is not allowed: an organization id is "o-"'],
    ['a too short session', { maxSessionDuration: Duration.minutes(15) }, 'maxSessionDuration: "15 minutes" is not allowed: between 1 and 12 hours'],
    ['a too long session', { maxSessionDuration: Duration.hours(13) }, 'maxSessionDuration: "13 hours" is not allowed: between 1 and 12 hours'],
    ['a session of a fraction of a second', { maxSessionDuration: Duration.millis(3_600_500) },
      'maxSessionDuration: "3600500 milliseconds" is not allowed: a whole number of seconds between 1 and 12 hours'],
    ['a session known only at deploy time', { maxSessionDuration: Duration.seconds(Token.asNumber({ Ref: 'SessionSeconds' })) },
      'maxSessionDuration: "<token>" is not allowed: a concrete duration between 1 and 12 hours (iam.Role needs it at synth time)'],
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

/** Account ids as IAM stores them (root ARNs), without whitespace: what the size quota is checked against. */
function iamLength(document: any, partition = 'aws'): number {
  return JSON.stringify(document, (_k, v) => (typeof v === 'string' && /^\d{12}$/.test(v) ? `arn:${partition}:iam::${v}:root` : v)).length;
}

function accounts(n: number, offset = 0): string[] {
  // Spread over the id space, as real account ids are.
  return Array.from({ length: n }, (_, i) => String(100000000000 + (i + offset) * 89_989_999).slice(0, 12));
}

function shardedStack(installs: { accountId: string; externalId?: string; revoked?: boolean }[], props: Partial<EcrAccessRoleProps> = {}) {
  // The built-in CloudFormation validation of aws-cdk-lib is timed separately: this checks the construct.
  const app = new App({ builtinCloudFormationValidation: false } as any);
  const stack = new Stack(app, 'Tenant', { env: ENV });
  const role = new EcrAccessRole(stack, 'Access', {
    repositories: [ecr.Repository.fromRepositoryName(stack, 'R', 'acme/api')],
    externalId: LONG_ID,
    roleName: 'acme-pull',
    trustedInstalls: installs,
    installsPerRole: 25,
    ...props,
  });
  return { app, stack, role };
}

describe('EcrAccessRole trust policy size', () => {
  test('fails with the size, the quota and the way out when one role cannot hold the principals', () => {
    expect(() => setup({ trustedAccountIds: accounts(40), externalId: LONG_ID })).toThrow(
      /trustedAccountIds, trustedRoleArns, trustedPrincipals, trustedInstalls: "40 principals" is not allowed: the trust policy would be (\d+) characters, over the quota of 2048 \(trustPolicySizeQuota\); about (\d+) such principals fit in one role\. Shard them: list them in trustedInstalls and set installsPerRole/,
    );
  });

  test('holds as many principals as fit in the declared quota, and not one more', () => {
    const fits = (n: number, quota?: number) => {
      try {
        setup({ trustedAccountIds: accounts(n), externalId: LONG_ID, trustPolicySizeQuota: quota });
        return true;
      } catch {
        return false;
      }
    };
    let most = 1;
    while (fits(most + 1)) most++;
    const { template } = setup({ trustedAccountIds: accounts(most), externalId: LONG_ID });
    const doc = (Object.values(template.findResources('AWS::IAM::Role'))[0] as any).Properties.AssumeRolePolicyDocument;
    expect(iamLength(doc)).toBeLessThanOrEqual(2048);
    expect(iamLength(doc) + 2 * ('"arn:aws:iam::123456789012:root",'.length)).toBeGreaterThan(2048);
    expect(fits(most + 1, 4096)).toBe(true);
  });

  test('counts account ids as root ARNs of the longest partition when the Region is not known', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const build = (n: number) => () => new EcrAccessRole(stack, `Access${n}`, {
      repositories: [ecr.Repository.fromRepositoryName(stack, `R${n}`, 'acme/api')], trustedAccountIds: accounts(n), externalId: LONG_ID,
    });
    // 25 fit in a role of a stack in eu-west-1 (partition aws): the test above.
    expect(build(25)).toThrow(/over the quota of 2048/);
  });
});

describe('EcrAccessRole sharding', () => {
  test('trusts 10,000 install accounts within IAM\'s default quotas without minimizePolicies', () => {
    const started = Date.now();
    const { app, stack, role } = shardedStack(accounts(10_000).map((accountId) => ({ accountId })));
    const template = app.synth().getStackByName(stack.stackName).template;
    const seconds = (Date.now() - started) / 1000;
    const roles = Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::IAM::Role') as any[];
    expect(roles.length).toBeLessThanOrEqual(1000);
    expect(roles.length).toBe(Math.ceil(10_000 / 25));
    const lengths = roles.map((r) => iamLength(r.Properties.AssumeRolePolicyDocument));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(2048);
    expect(roles.every((r) => r.Properties.AssumeRolePolicyDocument.Statement.length === 2)).toBe(true);
    const trusted = new Set(roles.flatMap((r) => r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.AWS));
    expect(trusted.size).toBe(10_000);
    expect(role.installAccess()).toHaveLength(10_000);
    expect(Object.keys(template.Resources).length).toBeLessThanOrEqual(500);
    expect(JSON.stringify(template).length).toBeLessThan(1_000_000);
    // Construct and synth together; the suite's timeout is the bound.
    process.stdout.write(`10,000 installs: ${roles.length} roles, longest trust policy ${Math.max(...lengths)} characters, synth ${seconds.toFixed(1)} s\n`);
    expect(seconds).toBeLessThan(60);
  }, 120_000);

  test('never moves an install to another role when installs are added or revoked', () => {
    const first = accounts(100);
    const before = shardedStack(first.map((accountId) => ({ accountId }))).role;
    const after = shardedStack([
      ...first.map((accountId, i) => ({ accountId, revoked: i % 7 === 0 })),
      ...accounts(50, 100).map((accountId) => ({ accountId })),
    ]).role;
    for (const [i, accountId] of first.entries()) {
      if (i % 7 === 0) {
        expect(() => after.accessFor(accountId)).toThrow(`account "${accountId}" is revoked`);
      } else {
        expect(after.accessFor(accountId)).toEqual(before.accessFor(accountId));
      }
    }
    expect(after.accessFor(accounts(1, 149)[0]).roleName).toBe('acme-pull-5');
  });

  test('names the role of install i "<roleName>-<floor(i / installsPerRole)>" with a literal ARN', () => {
    const { role, stack } = shardedStack(accounts(60).map((accountId) => ({ accountId })));
    expect(role.accessFor(accounts(1, 24)[0])).toEqual({
      accountId: accounts(1, 24)[0], roleName: 'acme-pull-0', roleArn: 'arn:aws:iam::111111111111:role/acme-pull-0', externalId: LONG_ID,
    });
    expect(role.accessFor(accounts(1, 25)[0]).roleArn).toBe('arn:aws:iam::111111111111:role/acme-pull-1');
    expect(role.roles).toHaveLength(3);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', { RoleName: 'acme-pull-2' });
  });

  test('writes what each install needs as JSON', () => {
    const { role } = shardedStack([{ accountId: '222222222222' }, { accountId: '333333333333', externalId: 'acme-install-333-5f1e9c' }]);
    expect(JSON.parse(role.installAccessJson())).toEqual({
      installs: [
        { accountId: '222222222222', roleArn: 'arn:aws:iam::111111111111:role/acme-pull-0', roleName: 'acme-pull-0', externalId: LONG_ID },
        { accountId: '333333333333', roleArn: 'arn:aws:iam::111111111111:role/acme-pull-0', roleName: 'acme-pull-0', externalId: 'acme-install-333-5f1e9c' },
      ],
      sessionTagKeys: ['ReleaseId'],
    });
  });

  test('shares one managed pull policy between the shards, and addRepository reaches every shard', () => {
    const { role, stack } = shardedStack(accounts(30).map((accountId) => ({ accountId })));
    role.addRepository(ecr.Repository.fromRepositoryName(stack, 'Web', 'acme/web'));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    const policy = Object.values(template.findResources('AWS::IAM::ManagedPolicy'))[0] as any;
    expect(policy.Properties.PolicyDocument.Statement[0].Resource).toHaveLength(2);
    for (const r of Object.values(template.findResources('AWS::IAM::Role')) as any[]) {
      expect(r.Properties.ManagedPolicyArns).toEqual([{ Ref: Object.keys(template.findResources('AWS::IAM::ManagedPolicy'))[0] }]);
    }
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  test('fails on role, roleArn and roleName when there are several roles', () => {
    const { role } = shardedStack(accounts(30).map((accountId) => ({ accountId })));
    expect(() => role.roleArn).toThrow('roleArn is ambiguous with installsPerRole (2 roles): use accessFor(accountId), installAccess() or roles');
  });

  test('fails naming the role whose trust policy would exceed the quota, and how many installs fit', () => {
    expect(() => shardedStack(accounts(40).map((accountId) => ({ accountId })), { installsPerRole: 40 })).toThrow(
      /installsPerRole: 40 is not allowed: role 0's trust policy would be \d+ characters for 40 installs, over the quota of 2048 \(trustPolicySizeQuota\); about 25 such installs fit in one role/,
    );
  });

  test('fails on an account that is not trusted', () => {
    const { role } = shardedStack([{ accountId: '222222222222' }]);
    expect(() => role.accessFor('999999999999')).toThrow('account "999999999999" is not trusted');
  });
});
