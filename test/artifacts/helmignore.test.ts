import { HelmIgnore, globToRegExp } from '../../src/artifacts/helmignore';

describe('HelmIgnore', () => {
  const rules = HelmIgnore.parse([
    '# comment',
    '',
    '*.bak',
    'secrets/',
    '/ci',
    'docs/*.md',
    '.git/',
  ].join('\n'));

  test.each([
    ['values.yaml.bak', false, true],
    ['templates/old.bak', false, true],
    ['secrets', true, true],
    ['secrets', false, false],
    ['ci', true, true],
    ['sub/ci', true, false],
    ['docs/readme.md', false, true],
    ['docs/deep/readme.md', false, false],
    ['templates/.hidden.swp', false, true],
    ['templates/deployment.yaml', false, false],
    ['.helmignore', false, false],
    ['.git', true, true],
  ])('decides %s (directory: %s) as Helm does: ignored %s', (path, dir, ignored) => {
    expect(rules.ignores(path, dir)).toBe(ignored);
  });

  test('keeps Helm\'s quirk: a negated rule ignores every path it does not match', () => {
    const negated = HelmIgnore.parse('!keep.txt\n');
    expect(negated.ignores('keep.txt', false)).toBe(false);
    expect(negated.ignores('values.yaml', false)).toBe(true);
  });

  test('never ignores the chart directory itself', () => {
    expect(HelmIgnore.parse('*\n').ignores('', true)).toBe(false);
  });

  test.each([
    ['a**b', /double-star/],
    ['[', /syntax error/],
    ['x\\', /syntax error/],
  ])('fails on %s, naming the line', (rule, message) => {
    expect(() => HelmIgnore.parse(`ok\n${rule}\n`)).toThrow(message);
    expect(() => HelmIgnore.parse(`ok\n${rule}\n`)).toThrow(/line 2/);
  });

  test.each([
    ['*.yaml', 'a.yaml', true],
    ['*.yaml', 'dir/a.yaml', false],
    ['?.txt', 'a.txt', true],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'dx', true],
    ['[^a-c]x', 'ax', false],
    ['a\\*b', 'a*b', true],
    ['a.b', 'axb', false],
  ])('matches Go\'s filepath.Match: %s against %s is %s', (pattern, name, match) => {
    expect(globToRegExp(pattern).test(name)).toBe(match);
  });
});
