import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { Closeable, DESTINATION_SIDE, SOURCE_SIDE, SideCredentials } from '../../src/cli/credentials';
import { CopyError, Redactor } from '../../src/sync';

const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

describe('SideCredentials', () => {
  const ecr = mockClient(ECRClient);

  beforeEach(() => {
    ecr.reset();
  });

  test('logs in to an ECR host through the AWS SDK when nothing else names credentials for it', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-token-1').toString('base64'), expiresAt: new Date(Date.now() + 3_600_000) }],
    });
    const clients: Closeable[] = [];
    const side = new SideCredentials(SOURCE_SIDE, undefined, {}, undefined, clients);
    const redactor = new Redactor();
    expect(await side.source(redactor)(ECR_HOST)).toEqual({ username: 'AWS', password: 'ecr-token-1' });
    expect(clients).toHaveLength(1);
    expect(redactor.text('token ecr-token-1')).toBe('token ***');
    const refused = new CopyError('UNAUTHORIZED', 'HTTP 401', { registry: ECR_HOST });
    expect(side.explain(refused, ECR_HOST)).toContain(`${ECR_HOST} refused the credentials from an ECR login`);
  });

  test('answers anonymous for other hosts without loading the AWS SDK client', async () => {
    const clients: Closeable[] = [];
    const side = new SideCredentials(DESTINATION_SIDE, undefined, {}, undefined, clients);
    expect(await side.source(new Redactor())('127.0.0.1:5000')).toBeUndefined();
    expect(clients).toHaveLength(0);
    expect(ecr.calls()).toHaveLength(0);
    const refused = new CopyError('UNAUTHORIZED', 'HTTP 401', { registry: '127.0.0.1:5000' });
    expect(side.explain(refused, '127.0.0.1:5000')).toMatch(/^no credentials for 127.0.0.1:5000; docker login 127.0.0.1:5000 or --dest-creds USER:PASS/);
    expect(side.explain(new CopyError('NETWORK', 'refused', { registry: '127.0.0.1:5000' }), '127.0.0.1:5000')).toBeUndefined();
  });

  test('prefers the flag to the environment variable', async () => {
    const side = new SideCredentials(SOURCE_SIDE, 'flag-user:flag-pass', { CDK_BYOC_SRC_CREDS: 'env-user:env-pass' }, undefined, []);
    expect(await side.source(new Redactor())(ECR_HOST)).toEqual({ username: 'flag-user', password: 'flag-pass' });
    const fromEnv = new SideCredentials(SOURCE_SIDE, undefined, { CDK_BYOC_SRC_CREDS: 'env-user:env-pass' }, undefined, []);
    expect(await fromEnv.source(new Redactor())(ECR_HOST)).toEqual({ username: 'env-user', password: 'env-pass' });
    expect(ecr.calls()).toHaveLength(0);
  });
});
