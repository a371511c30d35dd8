import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { createDependencies } from '../../src/image-sync.lambda';
import { assumePullSession, ecrCredentialSource, pullSessionPolicy } from '../../src/sync/ecr-credentials';
import { CopyError, StoppedError } from '../../src/sync/errors';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const REPO_ARN = 'arn:aws:ecr:eu-west-1:123456789012:repository/vendor/app';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/vendor-pull';

// The AWS calls as the Lambda makes them: SDK clients, here under aws-sdk-client-mock.
const aws = createDependencies({ region: 'eu-west-1' });
const getToken = () => aws.ecrAuthorizationToken('eu-west-1');

describe('ecrCredentialSource', () => {
  const ecr = mockClient(ECRClient);
  afterEach(() => ecr.reset());

  function token(user: string, pass: string, expiresAt: Date) {
    return { authorizationData: [{ authorizationToken: Buffer.from(`${user}:${pass}`).toString('base64'), expiresAt }] };
  }

  test('decodes AWS:<token> from GetAuthorizationToken', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves(token('AWS', 'secret:with:colons', new Date(Date.now() + 12 * 3600_000)));
    const source = ecrCredentialSource(getToken);
    await expect(source(REGISTRY)).resolves.toEqual({ username: 'AWS', password: 'secret:with:colons' });
  });

  test('caches the token until five minutes before it expires', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves(token('AWS', 'one', new Date(Date.now() + 12 * 3600_000)));
    const source = ecrCredentialSource(getToken);
    await Promise.all([source(REGISTRY), source(REGISTRY)]);
    await source(REGISTRY);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
  });

  test('fetches a new token when the cached one is within five minutes of expiry', async () => {
    ecr.on(GetAuthorizationTokenCommand)
      .resolvesOnce(token('AWS', 'old', new Date(Date.now() + 4 * 60_000)))
      .resolves(token('AWS', 'new', new Date(Date.now() + 12 * 3600_000)));
    const source = ecrCredentialSource(getToken);
    expect((await source(REGISTRY))?.password).toBe('old');
    expect((await source(REGISTRY))?.password).toBe('new');
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
  });

  test('fails with UNAUTHORIZED naming the registry, and tries again on the next call', async () => {
    ecr.on(GetAuthorizationTokenCommand)
      .rejectsOnce(Object.assign(new Error('User is not authorized to perform ecr:GetAuthorizationToken'), { name: 'AccessDeniedException' }))
      .resolves(token('AWS', 'later', new Date(Date.now() + 12 * 3600_000)));
    const source = ecrCredentialSource(getToken);
    const error = await source(REGISTRY).catch(e => e);
    expect(error).toBeInstanceOf(CopyError);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(REGISTRY);
    expect(error.message).toContain('AccessDeniedException');
    expect((await source(REGISTRY))?.password).toBe('later');
  });

  test.each([
    ['ThrottlingException', {}],
    ['ServiceUnavailableException', {}],
    ['SomeFutureThrottle', { $retryable: { throttling: true } }],
  ])('fails with a retryable REGISTRY error when the login is throttled or unavailable (%s), so a later poll tries again', async (name, extra) => {
    ecr.on(GetAuthorizationTokenCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name, ...extra }))
      .resolves(token('AWS', 'later', new Date(Date.now() + 12 * 3600_000)));
    const source = ecrCredentialSource(getToken);
    const error = await source(REGISTRY).catch(e => e);
    expect(error).toBeInstanceOf(CopyError);
    expect(error.code).toBe('REGISTRY');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('throttled or unavailable');
    expect((await source(REGISTRY))?.password).toBe('later');
  });

  test('within its deadline, makes a login that is still throttled after the SDK\'s retries again until it passes', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    ecr.on(GetAuthorizationTokenCommand).rejectsOnce(throttled).rejectsOnce(throttled)
      .resolves(token('AWS', 'admitted', new Date(Date.now() + 12 * 3600_000)));
    const source = ecrCredentialSource(getToken, { waitForQuotaUntil: Date.now() + 30_000 });
    expect((await source(REGISTRY))?.password).toBe('admitted');
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(3);
  });

  test('stops with a StoppedError at its deadline when the login stays throttled, and fails at once when it is unavailable', async () => {
    ecr.on(GetAuthorizationTokenCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const started = Date.now();
    const error = await ecrCredentialSource(getToken, { waitForQuotaUntil: Date.now() + 1000 })(REGISTRY).catch(e => e);
    expect(error).toBeInstanceOf(StoppedError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand).length).toBeGreaterThan(1);

    ecr.reset();
    ecr.on(GetAuthorizationTokenCommand).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailableException' }));
    const unavailable = await ecrCredentialSource(getToken, { waitForQuotaUntil: Date.now() + 30_000 })(REGISTRY).catch(e => e);
    expect(unavailable).toMatchObject({ code: 'REGISTRY', retryable: true });
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
  });

  test('fails when the response carries no token', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [] });
    const source = ecrCredentialSource(getToken);
    await expect(source(REGISTRY)).rejects.toThrow(/returned no token/);
  });
});

describe('pullSessionPolicy', () => {
  test('allows only the pull (and pull-through) actions on the one repository, and GetAuthorizationToken on *', () => {
    expect(JSON.parse(pullSessionPolicy(REPO_ARN))).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'PullOneRepository',
          Effect: 'Allow',
          Action: [
            'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage',
            'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository',
          ],
          Resource: REPO_ARN,
        },
        { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
      ],
    });
  });

  test.each(['*', 'arn:aws:ecr:eu-west-1:123456789012:repository/*', 'arn:aws:s3:::bucket', ROLE_ARN])(
    'fails on %s, which is not one repository ARN', arn => {
      expect(() => pullSessionPolicy(arn)).toThrow(/is not an ECR repository ARN/);
    });
});

describe('assumePullSession', () => {
  const sts = mockClient(STSClient);
  afterEach(() => sts.reset());
  const expiration = new Date(Date.now() + 900_000);

  test('assumes the role with the external id, 900 seconds, the pull-only session policy, tags and name', async () => {
    sts.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'session', Expiration: expiration },
    });
    const creds = await assumePullSession({
      assumeRole: aws.assumeRole,
      roleArn: ROLE_ARN,
      externalId: 'install-42',
      repositoryArn: REPO_ARN,
      sessionName: 'image-sync-release-7',
      sessionTags: [{ key: 'install', value: 'acme' }, { key: 'release', value: '7' }],
    });
    expect(creds).toEqual({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session', expiration });
    const calls = sts.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input).toEqual({
      RoleArn: ROLE_ARN,
      RoleSessionName: 'image-sync-release-7',
      ExternalId: 'install-42',
      DurationSeconds: 900,
      Policy: pullSessionPolicy(REPO_ARN),
      Tags: [{ Key: 'install', Value: 'acme' }, { Key: 'release', Value: '7' }],
    });
    const policy = JSON.parse(input.Policy!);
    const actions = policy.Statement.flatMap((s: { Action: string[] }) => s.Action);
    expect(actions.filter((a: string) => /Put|Upload|Delete|Layer(Upload|Part)/.test(a))).toEqual([]);
  });

  test('fails with a message naming the role and what to check when AssumeRole is denied', async () => {
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' }));
    const error = await assumePullSession({
      assumeRole: aws.assumeRole, roleArn: ROLE_ARN, externalId: 'x-1', repositoryArn: REPO_ARN, sessionName: 's',
    }).catch(e => e);
    expect(error.code).toBe('DENIED');
    expect(error.message).toContain(ROLE_ARN);
    expect(error.message).toMatch(/external id/);
  });

  test('within its deadline, waits for STS\'s quota when AssumeRole is still throttled after the SDK\'s retries', async () => {
    sts.on(AssumeRoleCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })).resolves({
      Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'session', Expiration: expiration },
    });
    const options = { assumeRole: aws.assumeRole, roleArn: ROLE_ARN, externalId: 'x-1', repositoryArn: REPO_ARN, sessionName: 's' };
    const creds = await assumePullSession({ ...options, waitForQuotaUntil: Date.now() + 30_000 });
    expect(creds.accessKeyId).toBe('ASIAEXAMPLE');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);

    sts.reset();
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(assumePullSession({ ...options, waitForQuotaUntil: Date.now() + 500 })).rejects.toBeInstanceOf(StoppedError);
    // Without a deadline, throttling fails as the SDK gave up.
    await expect(assumePullSession(options)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  test('fails before calling STS on a duration outside 900-43200', async () => {
    await expect(assumePullSession({
      assumeRole: aws.assumeRole, roleArn: ROLE_ARN, externalId: 'x-1', repositoryArn: REPO_ARN, sessionName: 's', durationSeconds: 60,
    })).rejects.toThrow(/durationSeconds 60 is not allowed/);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });
});
