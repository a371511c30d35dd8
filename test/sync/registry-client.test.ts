import * as http from 'http';
import { AddressInfo } from 'net';
import { Readable } from 'stream';
import { HttpPool } from '../../src/sync/http';
import { RegistryClient } from '../../src/sync/registry-client';

/** A scripted fake registry: records requests, answers with the handler. */
async function fake(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: { method?: string; url?: string; authorization?: string }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { seen, port, close: () => new Promise(r => server.close(r)) };
}

describe('RegistryClient', () => {
  const pool = new HttpPool();
  afterAll(() => pool.close());

  test('sends credentials only to the registry host, not to an upload location on another host', async () => {
    const storage = await fake((_req, res) => res.writeHead(201).end());
    const registry = await fake((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      } else {
        res.writeHead(202, { location: `http://localhost:${storage.port}/upload/1?sig=abc` }).end();
      }
    });
    try {
      const client = new RegistryClient({
        registry: `127.0.0.1:${registry.port}`, plainHttp: true, pool, credentials: async () => ({ username: 'u', password: 'p' }),
      });
      const { location } = await client.startUpload('app', ['repository:app:pull,push']);
      await client.putUpload('app', location!, `sha256:${'0'.repeat(64)}`, 3, Readable.from([Buffer.from('abc')]), ['repository:app:pull,push']);
      expect(registry.seen.map(s => s.authorization)).toEqual([undefined, 'Basic ' + Buffer.from('u:p').toString('base64')]);
      expect(storage.seen).toEqual([{ method: 'PUT', url: `/upload/1?sig=abc&digest=sha256%3A${'0'.repeat(64)}`, authorization: undefined }]);
    } finally {
      await storage.close();
      await registry.close();
    }
  });

  test('reads a manifest\'s digest from its bytes when HEAD carries no Docker-Content-Digest', async () => {
    const body = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
    const registry = await fake((req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    try {
      const client = new RegistryClient({ registry: `127.0.0.1:${registry.port}`, plainHttp: true, pool });
      const info = await client.headManifest('app', 'v1');
      expect(info?.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(registry.seen.map(s => s.method)).toEqual(['HEAD', 'GET']);
    } finally {
      await registry.close();
    }
  });

  test('reads a manifest\'s digest from its bytes when HEAD sends a Docker-Content-Digest that is not a digest, and drops a media type that is not one', async () => {
    const body = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
    const registry = await fake((req, res) => {
      res.writeHead(200, { 'content-type': 'text/x evil <b>; charset=utf-8', 'docker-content-digest': 'sha256:not-a-digest', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    try {
      const client = new RegistryClient({ registry: `127.0.0.1:${registry.port}`, plainHttp: true, pool });
      const info = await client.headManifest('app', 'v1');
      expect(info?.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(info?.mediaType).toBe('');
      expect(registry.seen.map(s => s.method)).toEqual(['HEAD', 'GET']);
    } finally {
      await registry.close();
    }
  });

  test('fails with the registry\'s own error code and message', async () => {
    const registry = await fake((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({
        errors: [{ code: 'TAG_INVALID', message: "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable." }],
      }));
    });
    try {
      const client = new RegistryClient({ registry: `127.0.0.1:${registry.port}`, plainHttp: true, pool });
      const error = await client.putManifest('app', 'v1', Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json').catch(e => e);
      expect(error.code).toBe('REGISTRY');
      expect(error.status).toBe(400);
      expect(error.message).toMatch(/PUT manifest app:v1 on 127\.0\.0\.1:\d+\/app failed with HTTP 400: TAG_INVALID: The image tag 'v1' already exists/);
    } finally {
      await registry.close();
    }
  });
});
