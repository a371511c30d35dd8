import { ChartError, chartMetadata } from '../../src/artifacts/chart-metadata';

describe('chartMetadata', () => {
  test('names every problem Helm would find at once', () => {
    expect(() => chartMetadata(Buffer.from('apiVersion: v2\nversion: one\ntype: plugin\n'))).toThrow(
      'Chart.yaml: name is required; version "one" is not allowed: a semantic version such as 1.2.3 or 1.2.3-rc.1+build.5; type "plugin" is not allowed: application or library');
  });

  test.each([
    ['a name with a slash', 'name: a/b\nversion: 1.0.0', /name "a\/b" is not allowed/],
    ['a list where a string goes', 'name: [a]\nversion: 1.0.0', /name must be a string, not a list/],
    ['deprecated that is not a boolean', 'name: a\nversion: 1.0.0\ndeprecated: maybe', /deprecated must be true or false, not "maybe"/],
    ['YAML it cannot read', 'name: "a\n', /Chart\.yaml line 1: unterminated quoted scalar/],
  ])('fails on %s', (_name, text, message) => {
    expect(() => chartMetadata(Buffer.from(text))).toThrow(message);
    expect(() => chartMetadata(Buffer.from(text))).toThrow(ChartError);
  });

  test('reads unquoted numbers in string fields as Helm\'s loader does (1.10 is 1.1), quoted ones as written', () => {
    const m = chartMetadata(Buffer.from('name: web\nversion: 1.10\nappVersion: 2.0\nkubeVersion: ">=1.10"\nannotations:\n  build: 0777\n  label: "0777"\n'));
    expect(m).toMatchObject({ version: '1.1', appVersion: '2', kubeVersion: '>=1.10', annotations: { build: '511', label: '0777' } });
  });

  test('reads loose semantic versions as Helm does', () => {
    expect(chartMetadata(Buffer.from('name: a\nversion: v1.2\ndeprecated: yes')).deprecated).toBe(true);
  });
});
