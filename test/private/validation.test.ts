import { Lazy, Token } from 'aws-cdk-lib';
import {
  ValidationProblems, isToken, checkAccountId, checkArn, checkRoleArn, checkRoleName, checkExternalId,
  checkRepositoryName, checkImageTag, checkDigest, checkNonEmpty, checkOrganizationId,
} from '../../src/private/validation';

type Check = (p: ValidationProblems, prop: string, value: any) => void;

function problemsOf(check: Check, value: unknown): string[] {
  const p = new ValidationProblems('Thing');
  check(p, 'prop', value);
  return p.messages;
}

describe('ValidationProblems', () => {
  test('does not throw when nothing was added', () => {
    const p = new ValidationProblems('Thing');
    expect(p.isEmpty).toBe(true);
    expect(() => p.throwIfAny()).not.toThrow();
  });

  test('fails with one message listing every problem with prop, value and what is allowed', () => {
    const p = new ValidationProblems('TenantRepository');
    p.add('repositoryName', 'Bad', 'lowercase');
    p.add('tags', [], 'at least one');
    expect(p.isEmpty).toBe(false);
    expect(() => p.throwIfAny()).toThrow(
      'Invalid TenantRepository props:\n  - repositoryName: "Bad" is not allowed: lowercase\n  - tags: [] is not allowed: at least one',
    );
  });

  test('shortens very long values in the message', () => {
    const p = new ValidationProblems('Thing');
    p.add('prop', 'x'.repeat(2000), 'short');
    expect(p.messages[0]).toContain('(2002 characters)');
    expect(p.messages[0].length).toBeLessThan(250);
  });

  test('shows undefined values by name', () => {
    const p = new ValidationProblems('Thing');
    p.add('prop', undefined, 'something');
    expect(p.messages).toEqual(['prop: undefined is not allowed: something']);
  });
});

describe('isToken', () => {
  test.each([
    ['a string token', Lazy.string({ produce: () => 'x' })],
    ['a string containing a token', `prefix-${Lazy.string({ produce: () => 'x' })}`],
    ['a number token', Lazy.number({ produce: () => 1 })],
    ['a list token', Lazy.list({ produce: () => ['x'] })],
    ['a resolvable object', Lazy.any({ produce: () => 'x' })],
  ])('recognises %s', (_name, value) => {
    expect(isToken(value)).toBe(true);
  });

  test.each([
    ['a plain string', 'abc'],
    ['a number', 3],
    ['a plain list', ['a', 'b']],
    ['undefined', undefined],
    ['null', null],
  ])('does not treat %s as a token', (_name, value) => {
    expect(isToken(value)).toBe(false);
  });
});

const ROLE = 'arn:aws:iam::123456789012:role/sync';

describe.each<[string, Check, unknown[], unknown[], string]>([
  ['checkAccountId', checkAccountId,
    ['123456789012', '000000000000'],
    ['12345678901', '1234567890123', '12345678901a', ' 123456789012', ''],
    '12 digits'],
  ['checkArn', (p, prop, v) => checkArn(p, prop, v),
    [ROLE, 'arn:aws:ecr:eu-west-1:123456789012:repository/acme/api', 'arn:aws:s3:::bucket', 'arn:aws-cn:iam::aws:policy/X'],
    ['role/sync', 'arn:aws:iam:123456789012:role/x', 'arn::iam::123456789012:role/x', 'arn:aws:iam::12345:role/x', 'arn:aws:iam::123456789012:'],
    'an ARN of the form'],
  ['checkArn with service and resource type', (p, prop, v) => checkArn(p, prop, v, { service: 'ecr', resourceType: 'repository' }),
    ['arn:aws:ecr:eu-west-1:123456789012:repository/acme/api'],
    [ROLE, 'arn:aws:ecr:eu-west-1:123456789012:registry/x', 'arn:aws:ecr:eu-west-1:123456789012:repositoryx'],
    'arn:<partition>:ecr:<region>:<account>:repository/...'],
  ['checkRoleArn', checkRoleArn,
    [ROLE, 'arn:aws-us-gov:iam::123456789012:role/path/to/my.role@x', 'arn:aws:iam::123456789012:role/' + 'r'.repeat(64)],
    ['arn:aws:iam::123456789012:user/bob', 'arn:aws:iam::123456789012:role/', 'arn:aws:sts::123456789012:assumed-role/x/y',
      'arn:aws:iam::12345678901:role/x', 'arn:aws:iam::123456789012:role/' + 'r'.repeat(65), 'arn:aws:iam::123456789012:role/has space'],
    'an IAM role ARN'],
  ['checkRoleName', checkRoleName,
    ['sync', 'acme-byoc_image.sync+x=y,z@w', 'r'.repeat(64)],
    ['', 'has space', 'path/name', 'r'.repeat(65), 'colon:x'],
    'a role name is 1-64 characters'],
  ['checkExternalId', checkExternalId,
    ['ab', 'tenant-42:install/7@acme.com+x=y,z', 'e'.repeat(1224)],
    ['a', '', 'has space', 'semi;colon', 'e'.repeat(1225), 'quote"'],
    '2-1224 characters'],
  ['checkRepositoryName', checkRepositoryName,
    ['ab', 'acme/api', 'acme/team.a/api_v2-x', 'a__b', 'a--b/c---d', 'a'.repeat(256)],
    ['a', 'Acme', 'acme//api', '/acme', 'acme/', 'acme..api', 'acme-', '_acme', 'a___b', 'a._b', 'a'.repeat(257), 'acme api'],
    'ECR repository name is 2-256 characters'],
  ['checkImageTag', checkImageTag,
    ['v1.2.3', 'latest', '_x', 'A'.repeat(128), '1'],
    ['', '.v1', '-v1', 'v1:2', 'v1/2', 'A'.repeat(129), 'v 1'],
    'a tag is 1-128 characters'],
  ['checkDigest', checkDigest,
    ['sha256:' + 'a'.repeat(64), 'sha256:' + '0123456789abcdef'.repeat(4)],
    ['sha256:' + 'A'.repeat(64), 'sha256:' + 'a'.repeat(63), 'sha512:' + 'a'.repeat(64), 'a'.repeat(64)],
    'sha256:'],
  ['checkOrganizationId', checkOrganizationId,
    ['o-a1b2c3d4e5', 'o-' + 'a'.repeat(32)],
    ['o-short', 'O-A1B2C3D4E5', 'a1b2c3d4e5', 'o-' + 'a'.repeat(33), 'o-a1b2c3d4e_'],
    'an organization id is "o-" and 10-32'],
])('%s', (_name, check, good, bad, allowed) => {
  test.each(good)('accepts %p', (value) => {
    expect(problemsOf(check, value)).toEqual([]);
  });

  test.each(bad)('fails on %p naming the prop, the value and what is allowed', (value) => {
    const messages = problemsOf(check, value);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`prop: ${JSON.stringify(value).slice(0, 60)}`);
    expect(messages[0]).toContain(allowed);
  });

  test('skips tokens and undefined', () => {
    expect(problemsOf(check, Lazy.string({ produce: () => 'whatever' }))).toEqual([]);
    expect(problemsOf(check, undefined)).toEqual([]);
  });
});

describe('checkNonEmpty', () => {
  test('accepts a list with elements and a list token', () => {
    expect(problemsOf(checkNonEmpty, ['x'])).toEqual([]);
    expect(problemsOf(checkNonEmpty, Token.asList(Lazy.any({ produce: () => ['x'] })))).toEqual([]);
  });

  test.each([[[]], [undefined]])('fails on %p', (value) => {
    expect(problemsOf(checkNonEmpty, value)).toEqual([`prop: ${value === undefined ? 'undefined' : '[]'} is not allowed: at least one element is required`]);
  });
});
