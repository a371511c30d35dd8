import { CopyError } from '../../src/sync/errors';
import { Redactor, stripControls } from '../../src/sync/redact';

describe('Redactor', () => {
  test('removes a password, user:password and their Basic encoding, JSON-escaped and URL-encoded forms included', () => {
    const r = new Redactor();
    r.addCredentials({ username: 'AWS', password: 'pa"ss/w0rd+' });
    const basic = Buffer.from('AWS:pa"ss/w0rd+').toString('base64');
    const text = r.text(`a pa"ss/w0rd+ b AWS:pa"ss/w0rd+ c ${basic} d pa\\"ss/w0rd+ e ${encodeURIComponent('pa"ss/w0rd+')}`);
    expect(text).toBe('a *** b *** c *** d *** e ***');
  });

  test('removes secrets given up front and added later, the longest first', () => {
    const r = new Redactor(['install-acme-0042', undefined]);
    r.add('token-abcdef');
    r.add('token-abcdef-and-more');
    expect(r.text('id install-acme-0042, token token-abcdef-and-more, again token-abcdef')).toBe('id ***, token ***, again ***');
  });

  test('ignores secrets too short to search for without garbling every message', () => {
    const r = new Redactor(['ab']);
    expect(r.text('a cab and a tab')).toBe('a cab and a tab');
  });

  test('removes Authorization values and signed-URL parameters it was never told about', () => {
    const r = new Redactor();
    expect(r.text('sent Basic dXNlcjpwYXNz and Bearer eyJhbGciOi.abc.def')).toBe('sent Basic *** and Bearer ***');
    expect(r.text('GET https://bucket.s3/x?X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc123&token=t0k&part=1'))
      .toBe('GET https://bucket.s3/x?X-Amz-Credential=***&X-Amz-Signature=***&token=***&part=1');
  });

  test('finds a secret that an escape sequence was spliced into', () => {
    const r = new Redactor(['hunter2-password']);
    expect(r.text('echo hunter2\x1b[0m-password')).toBe('echo ***');
  });

  test('cleans an error\'s message and stack in place', () => {
    const r = new Redactor(['s3cr3t-value']);
    const e = new CopyError('REGISTRY', 'failed with s3cr3t-value\x1b[31m in it');
    expect(r.error(e)).toBe(e);
    expect(e.message).toBe('failed with *** in it');
    expect(e.stack).toContain('CopyError: failed with *** in it');
    expect(e.stack).not.toContain('s3cr3t-value');
  });

  test('cleans progress messages and every string of a log line\'s fields', () => {
    const r = new Redactor(['s3cr3t-value']);
    expect(r.event({ kind: 'retry', message: 'x s3cr3t-value\r\ny' })).toEqual({ kind: 'retry', message: 'x *** y' });
    expect(r.fields({ reason: 'a\nb s3cr3t-value', list: ['\x1b]0;t\x07ok'], n: 3, when: new Date(0) }))
      .toEqual({ reason: 'a\nb ***', list: ['ok'], n: 3, when: new Date(0) });
  });
});

describe('stripControls', () => {
  test.each([
    ['CSI sequences', 'a\x1b[2J\x1b[1;31mb\x1b[0m', 'ab'],
    ['an OSC title ended by BEL or ST', 'a\x1b]0;owned\x07b\x1b]2;x\x1b\\c', 'abc'],
    ['8-bit CSI', 'a\x9b2Jb', 'ab'],
    ['two-character escapes', 'a\x1bcb\x1b7c', 'abc'],
    ['other C0 and C1 characters', 'a\x00b\x07c\x85d\x7fe', 'a\ufffdb\ufffdc\ufffdd\ufffde'],
    ['bidi overrides and line separators', 'a\u202eb\u2066c\u2028d', 'a\ufffdb\ufffdc\ufffdd'],
  ])('removes %s', (_name, input, expected) => {
    expect(stripControls(input, false)).toBe(expected);
  });

  test('turns carriage returns, newlines and tabs into spaces on one line, and keeps newlines and tabs where lines are allowed', () => {
    expect(stripControls('a\rb\nc\td\r\ne', false)).toBe('a b c d e');
    expect(stripControls('a\rb\nc\td\r\ne', true)).toBe('a\nb\nc\td\ne');
  });
});
