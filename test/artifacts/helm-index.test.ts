import { HelmIndexError, findIndexEntry, indexUrl, resolveChartUrl } from '../../src/artifacts/helm-index';

const INDEX = `apiVersion: v1
entries:
  redis:
  - annotations:
      category: Database
    apiVersion: v2
    appVersion: 7.2.4
    created: "2026-01-10T10:00:00.123456789Z"
    description: |-
      Redis, an in-memory store:
      two lines.
    digest: ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789
    name: redis
    urls:
    - https://charts.example.com/redis-18.6.1.tgz
    version: 18.6.1
  - created: 2025-12-01T00:00:00Z
    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
    name: redis
    urls: [ "redis-18.5.0.tgz" ]
    version: 18.5.0
  empty: []
generated: "2026-01-10T10:00:01Z"
`;

describe('findIndexEntry', () => {
  test('finds a version, its URLs, its digest (with the sha256: prefix, lower case) and its created time', () => {
    expect(findIndexEntry(INDEX, 'redis', '18.6.1')).toEqual({
      name: 'redis',
      version: '18.6.1',
      urls: ['https://charts.example.com/redis-18.6.1.tgz'],
      digest: 'sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789',
      created: '2026-01-10T10:00:00.123456789Z',
    });
    expect(findIndexEntry(INDEX, 'redis', '18.5.0')).toMatchObject({ urls: ['redis-18.5.0.tgz'], created: '2025-12-01T00:00:00Z' });
  });

  test.each([
    ['a chart it lacks', 'mysql', '1.0.0', /has no chart "mysql"; it has 2 chart\(s\): "redis", "empty"/],
    ['a version it lacks', 'redis', '1.0.0', /chart "redis" has no version "1\.0\.0"; it has "18\.6\.1", "18\.5\.0"/],
    ['a chart without versions', 'empty', '1.0.0', /has no version "1\.0\.0"; it has none/],
  ])('fails on %s, naming what the index has', (_name, chart, version, message) => {
    expect(() => findIndexEntry(INDEX, chart, version)).toThrow(message);
  });

  test.each([
    ['no entries', 'apiVersion: v1\n', /no "entries" mapping/],
    ['a list', '- a\n', /not a Helm repository index/],
    ['a digest that is not sha256', 'entries:\n  a:\n  - version: 1.0.0\n    urls: [a.tgz]\n    digest: md5:abc\n', /digest "md5:abc" is not a sha256/],
    ['no urls', 'entries:\n  a:\n  - version: 1.0.0\n', /a 1\.0\.0 has no urls/],
  ])('fails on an index with %s', (_name, text, message) => {
    expect(() => findIndexEntry(text, 'a', '1.0.0')).toThrow(message);
    expect(() => findIndexEntry(text, 'a', '1.0.0')).toThrow(HelmIndexError);
  });
});

describe('resolveChartUrl', () => {
  test.each([
    ['https://h/charts', 'c-1.tgz', 'https://h/charts/c-1.tgz'],
    ['https://h/charts/', 'c-1.tgz', 'https://h/charts/c-1.tgz'],
    ['https://h/charts', '../other/c-1.tgz', 'https://h/other/c-1.tgz'],
    ['https://h/charts', 'https://cdn.example.com/c-1.tgz', 'https://cdn.example.com/c-1.tgz'],
    ['https://h/charts?token=x', 'c-1.tgz', 'https://h/charts/c-1.tgz'],
  ])('resolves %s + %s as Helm does', (base, ref, expected) => {
    expect(resolveChartUrl(base, ref).toString()).toBe(expected);
  });

  test('puts index.yaml under the repository URL', () => {
    expect(indexUrl('https://h/charts').toString()).toBe('https://h/charts/index.yaml');
  });
});
