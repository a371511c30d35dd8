import * as http from 'http';
import { AddressInfo } from 'net';
import { HttpPool, isLocalAddress, readBody } from '../../src/sync/http';

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
      } else if (req.url === '/other-port') {
        res.writeHead(307, { location: `http://127.0.0.1:${targetPort}/blob` }).end();
      } else if (req.url === '/userinfo') {
        res.writeHead(307, { location: `http://user:chosen@localhost:${targetPort}/blob` }).end();
      } else if (req.url === '/plain') {
        res.writeHead(307, { location: 'http://registry.example.com/v2/' }).end();
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

  test('drops Authorization when a redirect goes to another port of the same host', async () => {
    const port = (origin.address() as AddressInfo).port;
    const res = await pool.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/other-port`), headers: { authorization: 'Basic abc' } });
    expect((await readBody(res)).toString()).toBe('payload');
    expect(seen.map(s => s.authorization)).toEqual(['Basic abc', undefined]);
  });

  test('sends no Authorization of the registry\'s choosing when a redirect carries user information', async () => {
    const port = (origin.address() as AddressInfo).port;
    const res = await pool.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/userinfo`), headers: { authorization: 'Basic abc' } });
    expect((await readBody(res)).toString()).toBe('payload');
    expect(seen.map(s => s.authorization)).toEqual(['Basic abc', undefined]);
  });

  test('fails with REFUSED before connecting when a redirect leads to plain HTTP on a host not configured for it', async () => {
    const port = (origin.address() as AddressInfo).port;
    const error = await pool.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/plain`) }).catch(e => e);
    expect(error.code).toBe('REFUSED');
    expect(error.message).toMatch(/a redirect from http:\/\/127\.0\.0\.1:\d+ to http:\/\/registry\.example\.com is plain HTTP/);
    expect(seen).toHaveLength(1);
  });

  test('does not follow redirects of a PUT', async () => {
    const port = (origin.address() as AddressInfo).port;
    const res = await pool.send({ method: 'PUT', url: new URL(`http://127.0.0.1:${port}/x`), body: Buffer.from('x') });
    res.body.resume();
    expect(res.status).toBe(307);
    expect(seen).toHaveLength(1);
  });
});

describe('isLocalAddress', () => {
  test.each(['127.0.0.1', '127.8.9.10', '169.254.169.254', '0.0.0.0', '::1', '[::1]', '::', 'fe80::1', '::ffff:127.0.0.1', '::ffff:169.254.0.1', 'fd00:ec2::254'])(
    'holds %s local', (address) => {
      expect(isLocalAddress(address)).toBe(true);
    });

  test.each(['8.8.8.8', '10.0.0.1', '192.168.1.1', '2001:db8::1', '::ffff:8.8.8.8', 'localhost', 'registry.example.com'])(
    'holds %s not local (names are resolved first)', (address) => {
      expect(isLocalAddress(address)).toBe(false);
    });
});
