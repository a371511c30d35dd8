import { formatImageReference, isLoopbackHost, normalizeDockerHub, parseImageReference } from '../src/image-reference';

const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('parseImageReference', () => {
  test.each([
    ['127.0.0.1:5000/app', { registry: '127.0.0.1:5000', repository: 'app', tag: undefined, digest: undefined }],
    ['localhost/team/app:v1', { registry: 'localhost', repository: 'team/app', tag: 'v1', digest: undefined }],
    [`123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b/c:1.2.3@${DIGEST}`,
      { registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', repository: 'a/b/c', tag: '1.2.3', digest: DIGEST }],
    [`ghcr.io/org/app@${DIGEST}`, { registry: 'ghcr.io', repository: 'org/app', tag: undefined, digest: DIGEST }],
    ['[::1]:5000/app:latest', { registry: '[::1]:5000', repository: 'app', tag: 'latest', digest: undefined }],
    ['Registry.Example.com/my_app.x__y--z:V_1.0-rc', { registry: 'registry.example.com', repository: 'my_app.x__y--z', tag: 'V_1.0-rc', digest: undefined }],
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual(expected);
  });

  test.each([
    ['', /empty/],
    ['app:v1', /no registry host/],
    ['library/nginx', /not a registry host/],
    ['example.com/App', /repository "App" is not allowed/],
    ['example.com/app:-bad', /tag "-bad" is not allowed/],
    ['example.com/app@sha256:abc', /is not sha256:<64 lower-case hex digits>/],
    ['example.com:99999/app', /port 99999 is out of range/],
    ['example.com/', /repository is empty/],
    ['example.com/a//b', /is not allowed/],
    [' example.com/app', /whitespace/],
    ['exa_mple.com/app', /not a valid host/],
    [`example.com/${'a'.repeat(256)}`, /longer than 255/],
  ])('fails on %j with a message saying why', (text, message) => {
    expect(() => parseImageReference(text)).toThrow(message);
  });

  test('names the whole reference in its error', () => {
    expect(() => parseImageReference('example.com/App:v1')).toThrow('Invalid image reference "example.com/App:v1"');
  });

  test('round-trips through formatImageReference', () => {
    for (const text of ['127.0.0.1:5000/a/b:v1', `example.com/app@${DIGEST}`, `example.com/app:t@${DIGEST}`, 'example.com/app']) {
      expect(formatImageReference(parseImageReference(text))).toBe(text);
    }
  });
});

describe('isLoopbackHost', () => {
  test.each([
    ['127.0.0.1', true], ['127.0.0.1:5000', true], ['127.255.3.4:80', true], ['localhost', true], ['LOCALHOST:5000', true],
    ['[::1]', true], ['[::1]:5000', true],
    ['128.0.0.1', false], ['127.0.0.256', false], ['127.0.0', false], ['localhost.example.com', false], ['10.0.0.1:5000', false],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', false], ['[::2]:5000', false],
  ])('%s is loopback: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('normalizeDockerHub', () => {
  test('puts official Docker Hub images under library/', () => {
    expect(normalizeDockerHub(parseImageReference('docker.io/nginx:1.27')).repository).toBe('library/nginx');
    expect(normalizeDockerHub(parseImageReference('docker.io/bitnami/nginx')).repository).toBe('bitnami/nginx');
  });

  test('leaves other registries alone', () => {
    expect(normalizeDockerHub(parseImageReference('ghcr.io/nginx')).repository).toBe('nginx');
  });
});
