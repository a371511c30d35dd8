import * as http from 'http';
import { Recorder, basicValue, expectNoSecrets } from './helpers';
import { CopyImageOptions, copyImage } from '../../src/sync/copy';
import { CopyError } from '../../src/sync/errors';
import {
  FakeRegistry, HostileServer, amplifyingIndex, loopbackLookup, nestedIndexes, paddedImage, serveGraph,
  startFakeRegistry, startServer, testCertificate,
} from '../support/hostile';
import { MEDIA_TYPES, buildImage, sha256 } from '../support/images';
import { freePort } from '../support/registry';

const USER = { username: 'robot', password: 'hunter2-s3cret-passw0rd' };
const BASIC = `Basic ${basicValue(USER.username, USER.password)}`;

const servers: HostileServer[] = [];
async function track<T extends HostileServer>(server: Promise<T>): Promise<T> {
  const s = await server;
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const isBlobGet = (req: http.IncomingMessage) => req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
const manifestGets = (r: FakeRegistry) => r.requests.filter((q) => q.method === 'GET' && q.path.includes('/manifests/'));

/** A source with one image under app:v1, a plain loopback destination, and copy options between them. */
async function pair(source: Parameters<typeof startFakeRegistry>[0] = {}, destination: Parameters<typeof startFakeRegistry>[0] = {}) {
  const src = await track(startFakeRegistry(source));
  const dst = await track(startFakeRegistry(destination));
  const image = buildImage({ layers: [2000, 1000] });
  src.put('app', 'v1', image);
  const recorder = new Recorder();
  const options: CopyImageOptions = {
    source: `${src.host}/app:v1`,
    destination: `${dst.host}/app:v1`,
    sourceCredentials: src.credentials(),
    destinationCredentials: dst.credentials(),
    onProgress: recorder.onProgress,
    ca: [testCertificate().ca],
    lookup: loopbackLookup(),
    // HTTPS everywhere but the plain loopback registries of the test.
    plainHttp: (host) => (!source.tls && host === src.host) || (!destination.tls && host === dst.host),
  };
  return { src, dst, image, recorder, options };
}

describe('hostile registries: credentials stay with their registry', () => {
  test('fails without sending any credentials when a blob redirect target answers 401 with its own realm', async () => {
    const cdn = await track(startServer((req, res) => {
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"cdn-token"}');
      } else {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="cdn"` }).end();
      }
    }));
    const { src, recorder, options } = await pair({
      basic: USER,
      intercept: ({ req, res }) => {
        if (!isBlobGet(req) || req.headers.authorization !== BASIC) return false;
        res.writeHead(307, { location: `${cdn.origin}/cache${req.url}?sig=abc` }).end();
        return true;
      },
    });

    // All on loopback over plain HTTP, as loopback registries are by default.
    const error = await copyImage({ ...options, plainHttp: undefined }).catch((e) => e);

    expect(error).toBeInstanceOf(CopyError);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain(`answered HTTP 401 by ${cdn.origin}, which is not the registry`);
    expect(cdn.requests.length).toBeGreaterThan(0);
    expect(cdn.requests.filter((r) => r.authorization !== undefined)).toEqual([]);
    expect(cdn.requests.filter((r) => r.path.startsWith('/token'))).toEqual([]);
    expect(src.requests.some((r) => r.authorization === BASIC)).toBe(true);
    expectNoSecrets(recorder.texts(error), [USER.password, basicValue(USER.username, USER.password), 'sig=abc']);
  });

  test('takes a token realm on another HTTPS host, as Docker Hub\'s, and gives it the registry\'s credentials only', async () => {
    const realm = await track(startServer((req, res) => {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"registry-token-0123456789"}');
    }, { tls: true, name: 'localhost' }));
    const { src, dst, image, options } = await pair({
      tls: true, bearer: { realm: () => `${realm.origin}/token`, token: 'registry-token-0123456789' },
    });
    const result = await copyImage({ ...options, sourceCredentials: async () => USER });
    expect(result.digest).toBe(image.digest);
    expect(dst.manifest('app', 'v1')?.bytes.equals(image.manifest)).toBe(true);
    expect(realm.requests.length).toBeGreaterThan(0);
    realm.requests.forEach((r) => expect(r.authorization).toBe(BASIC));
    src.requests.forEach((r) => expect([undefined, 'Bearer registry-token-0123456789']).toContain(r.authorization));
  });

  test('refuses a plain-HTTP token realm from an HTTPS registry, and the realm hears nothing', async () => {
    const realm = await track(startServer((_req, res) => res.writeHead(200).end('{"token":"t"}')));
    const { options } = await pair({ tls: true, bearer: { realm: () => `${realm.origin}/token`, token: 'never-issued' } });
    const error = await copyImage({ ...options, sourceCredentials: async () => USER }).catch((e) => e);
    expect(error.code).toBe('REFUSED');
    expect(error.message).toMatch(/token realm .* is plain HTTP/);
    expect(realm.requests).toEqual([]);
  });

  test('takes a plain-HTTP token realm from a host configured for plain HTTP', async () => {
    const realm = await track(startServer((_req, res) => res.writeHead(200).end('{"token":"plain-realm-token"}')));
    const { image, options } = await pair({ bearer: { realm: () => `${realm.origin}/token`, token: 'plain-realm-token' } });
    const result = await copyImage({ ...options, plainHttp: () => true });
    expect(result.digest).toBe(image.digest);
    expect(realm.requests.length).toBeGreaterThan(0);
  });

  test('refuses a plain-HTTP upload location on the registry\'s own host and never sends it the credentials', async () => {
    const plain = await track(startServer((_req, res) => res.writeHead(201).end()));
    const { options } = await pair({}, {
      tls: true,
      basic: USER,
      uploadLocation: (id) => `http://127.0.0.1:${plain.port}/v2/app/blobs/uploads/${id}`,
    });
    const error = await copyImage({ ...options, destinationCredentials: async () => USER }).catch((e) => e);
    expect(error.code).toBe('REFUSED');
    expect(error.message).toContain('an upload location for app');
    expect(error.message).toContain('is plain HTTP');
    expect(plain.requests).toEqual([]);
  });

  test('refuses an HTTPS to HTTP redirect of a manifest asked for by tag: the plain hop never chooses the image', async () => {
    const evil = paddedImage(500);
    const plain = await track(startServer((_req, res) => {
      res.writeHead(200, { 'content-type': evil.manifest.mediaType }).end(evil.manifest.bytes);
    }));
    const { dst, options } = await pair({
      tls: true,
      intercept: ({ req, res }) => {
        if (req.method !== 'GET' || !req.url?.endsWith('/manifests/v1')) return false;
        res.writeHead(302, { location: `http://127.0.0.1:${plain.port}${req.url}` }).end();
        return true;
      },
    });
    const error = await copyImage(options).catch((e) => e);
    expect(error.code).toBe('REFUSED');
    expect(error.message).toMatch(/a redirect from https:\/\/127\.0\.0\.1:\d+ to http:\/\/127\.0\.0\.1:\d+ is plain HTTP/);
    expect(plain.requests).toEqual([]);
    expect(dst.manifest('app', 'v1')).toBeUndefined();
  });
});

describe('hostile registries: redirects never reach local addresses from a registry that is not on loopback', () => {
  const targets: [string, (port: number) => string, RegExp][] = [
    ['a loopback address', (port) => `https://127.0.0.1:${port}`, /to https:\/\/127\.0\.0\.1:\d+ points at a loopback or link-local address/],
    ['an IPv4-mapped loopback address', (port) => `https://[::ffff:127.0.0.1]:${port}`, /to https:\/\/\[::ffff:7f00:1\]:\d+ points at a loopback or link-local address/],
    ['a name that resolves to a loopback address', (port) => `https://cdn.test:${port}`, /cdn\.test resolves to 127\.0\.0\.1, a loopback or link-local address/],
    ['localhost', (port) => `https://localhost:${port}`, /to https:\/\/localhost:\d+ points at a loopback or link-local address/],
    ['the link-local metadata address', () => 'https://169.254.169.254', /to https:\/\/169\.254\.169\.254 points at a loopback or link-local address/],
  ];

  test.each(targets)('refuses a blob redirect to %s', async (_name, target, message) => {
    const local = await track(startServer((_req, res) => res.writeHead(200).end('nothing'), { tls: true }));
    const { src, options } = await pair({
      tls: true,
      name: 'registry.test',
      intercept: ({ req, res }) => {
        if (!isBlobGet(req)) return false;
        res.writeHead(307, { location: `${target(local.port)}${req.url}` }).end();
        return true;
      },
    });
    const error = await copyImage(options).catch((e) => e);
    expect(error.code).toBe('REFUSED');
    expect(error.message).toMatch(message);
    expect(local.requests).toEqual([]);
    // The registry itself resolves to loopback too: that was its operator's choice, and it was used.
    expect(manifestGets(src).length).toBeGreaterThan(0);
  });
});

describe('hostile registries: manifest graphs are read once per digest, within caps', () => {
  test('fetches a manifest that an index names 400 times once', async () => {
    const graph = amplifyingIndex(400, 1024 * 1024);
    const src = await track(startFakeRegistry());
    const dst = await track(startFakeRegistry());
    serveGraph(src, 'app', 'v1', graph);
    const result = await copyImage({ source: `${src.host}/app:v1`, destination: `${dst.host}/app:v1` });
    expect(graph.top.bytes.length).toBeGreaterThan(80_000);
    expect(result.digest).toBe(graph.top.digest);
    expect(manifestGets(src).map((r) => r.path)).toEqual(['/v2/app/manifests/v1', `/v2/app/manifests/${graph.manifests[0].digest}`]);
    // The index is copied byte for byte, duplicate entries and all.
    expect(dst.manifest('app', 'v1')?.bytes.equals(graph.top.bytes)).toBe(true);
    expect(dst.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))).toHaveLength(2);
  });

  test('fetches indexes nested three deep, 40 wide over one manifest per level, with one request per level', async () => {
    const graph = nestedIndexes(40, 3, false);
    const src = await track(startFakeRegistry());
    const dst = await track(startFakeRegistry());
    serveGraph(src, 'app', 'v1', graph);
    const result = await copyImage({ source: `${src.host}/app:v1`, destination: `${dst.host}/app:v1` });
    expect(result.digest).toBe(graph.top.digest);
    expect(manifestGets(src)).toHaveLength(4);
    for (const m of graph.manifests) {
      expect(dst.manifest('app', m.digest)?.bytes.equals(m.bytes)).toBe(true);
    }
  });

  test('fails with LIMIT naming maxManifests and the image long before fetching 1,640 distinct manifests', async () => {
    const graph = nestedIndexes(40, 2, true);
    const src = await track(startFakeRegistry());
    const dst = await track(startFakeRegistry());
    serveGraph(src, 'app', 'v1', graph);
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${dst.host}/app:v1` }).catch((e) => e);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toContain(`the image ${src.host}/app@${graph.top.digest} has more than 256 distinct manifests`);
    expect(error.message).toContain('maxManifests');
    expect(manifestGets(src).length).toBeLessThan(50);
    expect(dst.requests.filter((r) => r.method !== 'HEAD')).toEqual([]);
  });

  test('fails with LIMIT naming maxManifestDepth on indexes nested deeper than the cap', async () => {
    const graph = nestedIndexes(1, 6, false);
    const src = await track(startFakeRegistry());
    serveGraph(src, 'app', 'v1', graph);
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${src.host}/copy:v1`, maxManifestDepth: 3 }).catch((e) => e);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toMatch(/nests indexes deeper than 3 levels .*maxManifestDepth/);
    // The top index and the three below it; the fourth level is never asked for.
    expect(manifestGets(src)).toHaveLength(4);
  });

  test('fails with LIMIT naming maxManifestBytes before fetching manifests that would pass the cap', async () => {
    const graph = amplifyingIndex(3, 1024 * 1024);
    const src = await track(startFakeRegistry());
    serveGraph(src, 'app', 'v1', graph);
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${src.host}/copy:v1`, maxManifestBytes: 512 * 1024 }).catch((e) => e);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toContain('has more than 524288 bytes of manifests: the maxManifestBytes cap refuses it');
    expect(manifestGets(src)).toHaveLength(1);
  });

  test('fails with LIMIT when an index declares a manifest larger than any manifest may be', async () => {
    const image = paddedImage(1000);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: image.manifest.digest, size: 64 * 1024 * 1024 }],
    }));
    const src = await track(startFakeRegistry());
    src.putManifest('app', 'v1', MEDIA_TYPES.ociIndex, index);
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${src.host}/copy:v1` }).catch((e) => e);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toContain('more than a manifest may have (4194304)');
    expect(manifestGets(src)).toHaveLength(1);
  });

  test('fails with LIMIT naming maxBlobSize on a blob declared larger than the cap, before any blob request', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: MEDIA_TYPES.ociLayer, digest: sha256('huge'), size: 11 * 1024 ** 3 }],
    }));
    const src = await track(startFakeRegistry());
    src.putBlob(config);
    src.putManifest('app', 'v1', MEDIA_TYPES.ociManifest, manifest);
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${src.host}/copy:v1` }).catch((e) => e);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toContain(`blob ${sha256('huge')} declared as ${11 * 1024 ** 3} bytes, more than the maxBlobSize cap of ${10 * 1024 ** 3} bytes`);
    expect(src.requests.filter((r) => r.path.includes('/blobs/'))).toEqual([]);

    const allowed = await copyImage({ source: `${src.host}/app:v1`, destination: `${src.host}/copy:v1`, maxBlobSize: 12 * 1024 ** 3 }).catch((e) => e);
    expect(allowed.code).toBe('NOT_FOUND');
  });

  test('fails with LIMIT naming maxBlobs on an image of 5,000 small distinct layers, before any blob request or write', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layers = Array.from({ length: 5000 }, (_, i) => ({ mediaType: MEDIA_TYPES.ociLayer, digest: sha256(`layer ${i}`), size: 10 }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers,
    }));
    const src = await track(startFakeRegistry());
    const dst = await track(startFakeRegistry());
    src.putBlob(config);
    src.putManifest('app', 'v1', MEDIA_TYPES.ociManifest, manifest);
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${dst.host}/app:v1` }).catch((e) => e);
    expect(error).toBeInstanceOf(CopyError);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toContain(`the image ${src.host}/app@${sha256(manifest)} has more than 4096 distinct blobs: the maxBlobs cap refuses it`);
    // The config is read for the platform; no layer is asked for, nothing is written.
    expect(src.requests.filter((r) => r.path.includes('/blobs/') && !r.path.endsWith(sha256(config)))).toEqual([]);
    expect(dst.requests.filter((r) => r.method !== 'HEAD')).toEqual([]);

    const lower = await copyImage({ source: `${src.host}/app:v1`, destination: `${dst.host}/app:v1`, maxBlobs: 100 }).catch((e) => e);
    expect(lower.message).toContain('has more than 100 distinct blobs');
    const allowed = await copyImage({ source: `${src.host}/app:v1`, destination: `${dst.host}/app:v1`, maxBlobs: 6000 }).catch((e) => e);
    // Past the cap the copy asks for the layers, which this source does not hold.
    expect(allowed.code).toBe('NOT_FOUND');
  });

  test('fails with INVALID naming maxBlobs when it is not a positive integer', async () => {
    const error = await copyImage({ source: '127.0.0.1:1/app:v1', destination: '127.0.0.1:1/copy:v1', maxBlobs: 0 }).catch((e) => e);
    expect(error.code).toBe('INVALID');
    expect(error.message).toBe('maxBlobs 0 is not allowed: a positive integer');
  });
});

describe('hostile registries: what leaves the engine', () => {
  test('keeps the credentials out of progress, retries and the error when a destination echoes Authorization in 503 bodies', async () => {
    const { recorder, options } = await pair({}, {
      basic: USER,
      intercept: ({ req, res }) => {
        if (req.method !== 'PUT' || !req.headers.authorization) return false;
        const auth = req.headers.authorization;
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({
          errors: [{ code: 'UNAVAILABLE', message: `echo: Authorization: ${auth}; user:pass ${USER.username}:${USER.password}; b64 ${auth.slice(6)}` }],
        }));
        return true;
      },
    });
    const error = await copyImage({ ...options, destinationCredentials: async () => USER }).catch((e) => e);
    expect(error.code).toBe('REGISTRY');
    expect(recorder.of('retry').length).toBeGreaterThan(0);
    expect(recorder.of('retry').some((e) => e.message!.includes('echo: Authorization: Basic ***'))).toBe(true);
    expectNoSecrets(recorder.texts(error), [USER.password, basicValue(USER.username, USER.password)]);
  });

  test('keeps a bearer token out of every message when the registry echoes it', async () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJyb2JvdCJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const realm = await track(startServer((_req, res) => res.writeHead(200).end(JSON.stringify({ token }))));
    const { recorder, options } = await pair({
      bearer: { realm: () => `${realm.origin}/token`, token },
      intercept: ({ req, res }) => {
        if (!isBlobGet(req) || !req.headers.authorization) return false;
        res.writeHead(503).end(`you sent ${req.headers.authorization.slice(7)} as ${req.headers.authorization}`);
        return true;
      },
    });
    const error = await copyImage(options).catch((e) => e);
    expect(error).toBeInstanceOf(CopyError);
    expectNoSecrets(recorder.texts(error), [token]);
  });

  test('removes terminal control characters from registry error text in errors and retry notices', async () => {
    const hostile = 'pwned\x1b]0;owned title\x07\x1b[2J\x1b[31mred\r\noverwritten\u202eesrever\x9b1A\x00\x7f';
    const { recorder, options } = await pair({}, {
      intercept: ({ req, res }) => {
        if (req.method !== 'PUT' || !req.url?.includes('/blobs/uploads/')) return false;
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: hostile }] }));
        return true;
      },
    });
    const error = await copyImage(options).catch((e) => e);
    expect(error.message).toContain('pwned');
    expect(recorder.of('retry').some((e) => e.message!.includes('pwned'))).toBe(true);
    const texts = [error.message, error.stack, ...recorder.events.map((e) => e.message ?? '')];
    for (const text of texts) {
      expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    }
  });

  test('removes terminal control characters from a source\'s error text', async () => {
    const { options } = await pair({
      intercept: ({ req, res }) => {
        if (req.method !== 'GET' || !req.url?.includes('/manifests/')) return false;
        res.writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'fine\x1b[1A\x1b[2K\rcopy: done, exit 0\u2028next' }] }));
        return true;
      },
    });
    const error = await copyImage(options).catch((e) => e);
    expect(error.message).toContain('DENIED: fine');
    expect(error.message).toContain('copy: done, exit 0');
    expect(error.message).not.toMatch(/[\x1b\r\n\u2028]/);
  });
});

describe('hostile networks: bounded retries', () => {
  test.each(['source', 'destination'] as const)('fails after one retry, within half a second, when the %s refuses connections', async (which) => {
    const closed = `127.0.0.1:${await freePort()}`;
    const src = await track(startFakeRegistry());
    src.put('app', 'v1', buildImage());
    const retries: string[] = [];
    const started = Date.now();
    const error = await copyImage({
      source: which === 'source' ? `${closed}/app:v1` : `${src.host}/app:v1`,
      destination: which === 'destination' ? `${closed}/app:v1` : `${src.host}/copy:v1`,
      onProgress: (e) => e.kind === 'retry' && retries.push(e.message ?? ''),
    }).catch((e) => e);
    const seconds = (Date.now() - started) / 1000;
    expect(error.code).toBe('NETWORK');
    expect(error.registry).toBe(closed);
    expect(error.message).toContain('ECONNREFUSED');
    expect(retries).toHaveLength(1);
    expect(retries[0]).toContain(closed);
    expect(seconds).toBeLessThan(0.5);
  });

  test('fails at once, without retrying, when the source\'s name does not resolve', async () => {
    const dst = await track(startFakeRegistry());
    const retries: string[] = [];
    const error = await copyImage({
      source: 'registry.invalid/app:v1',
      destination: `${dst.host}/copy:v1`,
      lookup: ((_host: string, _options: unknown, callback: (err: Error) => void) => {
        callback(Object.assign(new Error('getaddrinfo ENOTFOUND registry.invalid'), { code: 'ENOTFOUND' }));
      }) as never,
      onProgress: (e) => e.kind === 'retry' && retries.push(e.message ?? ''),
    }).catch((e) => e);
    expect(error.code).toBe('NETWORK');
    expect(error.message).toContain('ENOTFOUND');
    expect(retries.filter((r) => r.includes('registry.invalid'))).toEqual([]);
  });

  test('asks a failing registry as many times for a manifest as for anything else: four, never nested loops', async () => {
    const src = await track(startFakeRegistry({
      intercept: ({ req, res }) => {
        if (req.method !== 'GET' || !req.url?.includes('/manifests/')) return false;
        res.writeHead(503).end();
        return true;
      },
    }));
    const error = await copyImage({ source: `${src.host}/app:v1`, destination: `${src.host}/copy:v1` }).catch((e) => e);
    expect(error.code).toBe('REGISTRY');
    expect(error.retryable).toBe(true);
    expect(manifestGets(src)).toHaveLength(4);
  });

  test('asks a failing registry four times for a blob, not four times four', async () => {
    const { src, options } = await pair({
      intercept: ({ req, res }) => {
        if (!isBlobGet(req)) return false;
        res.writeHead(502).end();
        return true;
      },
    });
    const error = await copyImage({ ...options, concurrency: 1 }).catch((e) => e);
    expect(error.code).toBe('REGISTRY');
    const gets = src.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
    expect(gets.length).toBe(4);
  });
});
