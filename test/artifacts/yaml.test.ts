import { parseYaml, yamlBoolean } from '../../src/artifacts/yaml';

describe('parseYaml', () => {
  test.each([
    ['plain scalars as their text', 'version: 1.10\nappVersion: 2.0\nname: web', { version: '1.10', appVersion: '2.0', name: 'web' }],
    ['quoted scalars, escapes and doubled single quotes', 'a: "x\\ty \\u00e9 \\"q\\""\nb: \'it\'\'s # not a comment\'', { a: 'x\ty é "q"', b: 'it\'s # not a comment' }],
    ['comments, a document start and null spellings', '---\n# top\na: ~ # none\nb:\nc: null\nd: value # trailing', { a: null, b: null, c: null, d: 'value' }],
    ['nested mappings and sequences of mappings', 'm:\n  k: v\n  list:\n  - name: a\n    email: a@x\n  - name: b\n', { m: { k: 'v', list: [{ name: 'a', email: 'a@x' }, { name: 'b' }] } }],
    ['sequences indented under their key, and of scalars', 'urls:\n    - https://h/c-1.tgz\n    - "rel/c.tgz"\n', { urls: ['https://h/c-1.tgz', 'rel/c.tgz'] }],
    ['literal block scalars keep lines (clip, strip, keep)', 'a: |\n  one\n  two\n\nb: |-\n  x\nc: |+\n  y\n\nd: z', { a: 'one\ntwo\n', b: 'x', c: 'y\n\n', d: 'z' }],
    ['folded block scalars join lines with spaces', 'a: >\n  one\n  two\n\n  three\nb: 1', { a: 'one two\nthree\n', b: '1' }],
    ['flow sequences and mappings', 'k: [a, "b, c", {x: 1, y: [2]}]\ne: []\nf: {}', { k: ['a', 'b, c', { x: '1', y: ['2'] }], e: [], f: {} }],
    ['plain scalars continued on more-indented lines', 'description: a long\n  sentence here\nnext: x', { description: 'a long sentence here', next: 'x' }],
    ['URLs and times with colons are values, not keys', 'u: https://example.com:8443/x\nt: 2026-01-02T03:04:05Z', { u: 'https://example.com:8443/x', t: '2026-01-02T03:04:05Z' }],
    ['quoted keys', '"a: b": 1\n\'c\': 2', { 'a: b': '1', 'c': '2' }],
    ['JSON documents', '{"apiVersion": "v1", "entries": {"x": [{"version": 1.5}]}}', { apiVersion: 'v1', entries: { x: [{ version: '1.5' }] } }],
    ['a byte order mark and CRLF line ends', '\uFEFFa: 1\r\nb: 2\r\n', { a: '1', b: '2' }],
  ])('reads %s', (_name, text, expected) => {
    expect(parseYaml(text)).toEqual(expected);
  });

  test.each([
    ['anchors', 'a: &x 1\nb: *x', /anchors and aliases are not supported/],
    ['tags', 'a: !!str 1', /tags are not supported/],
    ['two documents', 'a: 1\n---\nb: 2', /more than one document/],
    ['an unterminated quote', 'a: "open\nb: 2', /unterminated quoted scalar/],
    ['bad indentation', 'a:\n  b: 1\n c: 2', /line 3/],
    ['a duplicate key, as helm lint does', 'name: a\nversion: 1\nname: b', /line 3: key "name" is already defined/],
  ])('fails on %s, naming the line', (_name, text, message) => {
    expect(() => parseYaml(text, 'Chart.yaml')).toThrow(message);
  });

  test('hands every plain scalar, and no quoted or block scalar, to plainScalar', () => {
    const seen: string[] = [];
    const doc = parseYaml('a: 1.10\nb: "2.0"\nc: [3.0, \'4.0\']\nd: |\n  5.0\ne: ~\n', 'x', {
      plainScalar: (t) => {
        seen.push(t);
        return `<${t}>`;
      },
    });
    expect(doc).toEqual({ a: '<1.10>', b: '2.0', c: ['<3.0>', '4.0'], d: '5.0\n', e: null });
    expect(seen).toEqual(['1.10', '3.0']);
  });

  test('reads YAML 1.1 booleans as Go\'s yaml.v2 does', () => {
    expect(['true', 'yes', 'On', 'false', 'no', 'OFF', 'maybe', null].map(v => yamlBoolean(v))).toEqual([true, true, true, false, false, false, undefined, undefined]);
  });
});
