import * as http from 'http';
import { AddressInfo } from 'net';
import { HttpPool } from '../../src/sync/http';
import { RegistryConnection, describeRegistryErrors, routeOf } from '../../src/sync/registry-connection';

describe('RegistryConnection', () => {
  test('summarizes registry error bodies, and shortens anything else', () => {
    expect(describeRegistryErrors('{"errors":[{"code":"A","message":"one"},{"code":"B"}]}')).toBe('A: one; B');
    expect(describeRegistryErrors('<html>\n  Bad   gateway </html>')).toBe('<html> Bad gateway </html>');
  });

  test('connects to the dialled host while the credentials and messages name the registry', async () => {
    const seen: { host?: string; authorization?: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ host: req.headers.host, authorization: req.headers.authorization });
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      } else {
        res.writeHead(403).end();
      }
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
    const dialled = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    const asked: string[] = [];
    const pool = new HttpPool();
    try {
      const route = routeOf(registry, { dial: r => (r === registry ? dialled : undefined) });
      expect(route).toEqual({ host: dialled, plainHttp: true });
      const connection = new RegistryConnection({
        registry,
        ...route,
        pool,
        credentials: async (r) => {
          asked.push(r);
          return { username: 'AWS', password: 'token' };
        },
      });
      const res = await connection.call({ method: 'HEAD', target: '/v2/app/manifests/v1', scopes: ['repository:app:pull'], what: 'manifest app:v1' });
      const error = await connection.failure(res, 'HEAD manifest app@v1', 'app');

      expect(seen.map(s => s.host)).toEqual([dialled, dialled]);
      expect(asked).toEqual([registry]);
      expect(error.message).toMatch(new RegExp(`^HEAD manifest app@v1 on ${registry.replace(/\./g, '\\.')}/app failed with HTTP 403`));
    } finally {
      pool.close();
      await new Promise(r => server.close(r));
    }
  });

  test('dials Docker Hub\'s API host and speaks HTTPS to anything but loopback by default', () => {
    expect(routeOf('docker.io', {})).toEqual({ host: 'registry-1.docker.io', plainHttp: false });
    expect(routeOf('localhost:5000', {})).toEqual({ host: 'localhost:5000', plainHttp: true });
    expect(routeOf('ghcr.io', { plainHttp: () => true })).toEqual({ host: 'ghcr.io', plainHttp: true });
  });
});
