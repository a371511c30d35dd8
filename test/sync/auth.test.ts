import { basicAuthorization, parseChallenges } from '../../src/sync/auth';

describe('parseChallenges', () => {
  test('reads a Bearer challenge with quoted parameters', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'))
      .toEqual([{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } }]);
  });

  test('reads a Basic challenge', () => {
    expect(parseChallenges('Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"')).toEqual([
      { scheme: 'basic', params: { realm: 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com/', service: 'ecr.amazonaws.com' } },
    ]);
  });

  test('reads several challenges, unquoted values, escapes and commas inside quotes', () => {
    expect(parseChallenges('Basic realm=simple, Bearer realm="http://127.0.0.1:1/token", scope="repository:a:pull,push", error="invalid_token", note="a \\"quoted\\" word"'))
      .toEqual([
        { scheme: 'basic', params: { realm: 'simple' } },
        { scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token', scope: 'repository:a:pull,push', error: 'invalid_token', note: 'a "quoted" word' } },
      ]);
  });

  test('lower-cases scheme and parameter names', () => {
    expect(parseChallenges('BEARER Realm="x"')).toEqual([{ scheme: 'bearer', params: { realm: 'x' } }]);
  });

  test('returns nothing for an empty header', () => {
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('basicAuthorization', () => {
  test('encodes user:password in base64', () => {
    expect(basicAuthorization({ username: 'AWS', password: 'p:w' })).toBe('Basic ' + Buffer.from('AWS:p:w').toString('base64'));
  });
});
