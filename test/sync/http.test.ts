import * as http from 'http';
import { AddressInfo } from 'net';
import { StoppedError } from '../../src/sync/errors';
import { HttpPool, isRetryableNetworkError, parseRetryAfterMs, readBody, retryDelayMs, sleep } from '../../src/sync/http';

describe('retry timing', () => {
  test('honours Retry-After in seconds and as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('3', now)).toBe(3000);
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(retryDelayMs(0, '2', now)).toBe(2000);
  });

  test('caps Retry-After at a minute', () => {
    expect(retryDelayMs(0, '3600')).toBe(60_000);
  });

  test('backs off exponentially with jitter, capped at 8 s', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(200 * 2 ** attempt, 8000);
      for (let i = 0; i < 20; i++) {
        const d = retryDelayMs(attempt);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  test('treats resets and timeouts as retryable, other errors not', () => {
    expect(isRetryableNetworkError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableNetworkError(new Error('socket hang up'))).toBe(true);
    expect(isRetryableNetworkError(Object.assign(new Error('x'), { code: 'ERR_INVALID_URL' }))).toBe(false);
  });

  test('sleep wakes up with the abort reason', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new StoppedError('deadline'));
    await expect(pending).rejects.toMatchObject({ reason: 'deadline' });
  });
});

describe('HttpPool redirects', () => {
  let target: http.Server;
  let origin: http.Server;
  let seen: { host?: string; authorization?: string }[];
  let pool: HttpPool;

  const listen = (server: http.Server) => new Promise<number>(r => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));

  beforeEach(async () => {
    seen = [];
    pool = new HttpPool();
    target = http.createServer((req, res) => {
      seen.push({ host: req.headers.host, authorization: req.headers.authorization });
      res.end('payload');
    });
    const targetPort = await listen(target);
    origin = http.createServer((req, res) => {
      seen.push({ host: req.headers.host, authorization: req.headers.authorization });
      if (req.url === '/same') {
        res.writeHead(307, { location: '/final' }).end();
      } else if (req.url === '/final') {
        res.end('same-host');
      } else {
        res.writeHead(307, { location: `http://localhost:${targetPort}/blob?sig=1` }).end();
      }
    });
    await listen(origin);
  });

  afterEach(async () => {
    pool.close();
    await new Promise(r => target.close(r));
    await new Promise(r => origin.close(r));
  });

  test('drops Authorization when a redirect leaves the origin host', async () => {
    const port = (origin.address() as AddressInfo).port;
    const res = await pool.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/v2/a/blobs/x`), headers: { authorization: 'Bearer s3cr3t' } });
    expect((await readBody(res)).toString()).toBe('payload');
    expect(seen[0].authorization).toBe('Bearer s3cr3t');
    expect(seen[1].host).toMatch(/^localhost:/);
    expect(seen[1].authorization).toBeUndefined();
  });

  test('keeps Authorization on a redirect within the same host', async () => {
    const port = (origin.address() as AddressInfo).port;
    const res = await pool.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/same`), headers: { authorization: 'Basic abc' } });
    expect((await readBody(res)).toString()).toBe('same-host');
    expect(seen.map(s => s.authorization)).toEqual(['Basic abc', 'Basic abc']);
  });

  test('does not follow redirects of a PUT', async () => {
    const port = (origin.address() as AddressInfo).port;
    const res = await pool.send({ method: 'PUT', url: new URL(`http://127.0.0.1:${port}/x`), body: Buffer.from('x') });
    res.body.resume();
    expect(res.status).toBe(307);
    expect(seen).toHaveLength(1);
  });
});
