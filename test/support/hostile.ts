import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { BuiltImage, MEDIA_TYPES, allManifests, sha256 } from './images';

/**
 * Small hostile servers for tests, on 127.0.0.1, over plain HTTP or HTTPS with a certificate made
 * for the run: registries that misbehave the way a compromised or malicious one would.
 *
 * - {@link startFakeRegistry}: an in-memory OCI registry (manifests, blobs, uploads; Basic auth or
 *   a Bearer challenge with any realm) with an `intercept` hook through which a test makes it
 *   hostile: redirect blob or manifest requests elsewhere (another origin, plain HTTP, a local
 *   address), hand out plain-HTTP upload locations, echo the request's Authorization in a 503
 *   body, answer errors laced with terminal control characters.
 * - {@link startServer}: any handler on its own origin, recording every request with its full
 *   Authorization header: a "CDN" that answers 401 with its own realm, a token realm, a plain-HTTP
 *   listener that must never be reached.
 * - {@link amplifyingIndex} and {@link nestedIndexes}: manifest graphs that cost a naive reader
 *   hundreds or tens of thousands of requests (an 82 KB index naming one 1 MiB manifest 400 times;
 *   indexes nested three deep, 40 wide).
 * - {@link testCertificate}: a CA and a server certificate (made with openssl once per process) for
 *   127.0.0.1, localhost and the names in {@link TEST_NAMES}; give the engine `ca: [cert.ca]`, and
 *   a `lookup` that points those names at 127.0.0.1 ({@link loopbackLookup}) to play a registry
 *   that is not on loopback.
 */

/** Names the test certificate covers; {@link loopbackLookup} resolves them to 127.0.0.1. */
export const TEST_NAMES = ['registry.test', 'cdn.test', 'auth.test', 'storage.test'];

export interface TestCertificate {
  /** The CA certificate (PEM) to trust. */
  readonly ca: string;
  /** The server certificate (PEM), signed by the CA. */
  readonly cert: string;
  readonly key: string;
}

let certificate: TestCertificate | undefined;

/** A CA and a server certificate for 127.0.0.1, localhost and {@link TEST_NAMES}, made once per process. */
export function testCertificate(): TestCertificate {
  if (certificate) return certificate;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-tls-'));
  try {
    const file = (name: string) => path.join(dir, name);
    const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=cdk-byoc-artifacts test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1',
      '-keyout', file('server.key'), '-out', file('server.csr')]);
    const names = ['IP:127.0.0.1', 'DNS:localhost', ...TEST_NAMES.map((n) => `DNS:${n}`)].join(',');
    fs.writeFileSync(file('ext.cnf'), `subjectAltName=${names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    run(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', file('ext.cnf'), '-out', file('server.pem')]);
    certificate = {
      ca: fs.readFileSync(file('ca.pem'), 'utf8'),
      cert: fs.readFileSync(file('server.pem'), 'utf8'),
      key: fs.readFileSync(file('server.key'), 'utf8'),
    };
    return certificate;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A `dns.lookup` that resolves {@link TEST_NAMES} (and any name in `extra`) to the given address,
 * everything else as the system does: a registry reached by a name that is not loopback.
 */
export function loopbackLookup(extra: { [name: string]: string } = {}): typeof import('dns').lookup {
  const table: { [name: string]: string } = Object.fromEntries(TEST_NAMES.map((n) => [n, '127.0.0.1']));
  Object.assign(table, extra);
  const lookup = (hostname: string, options: any, callback?: any) => {
    const cb = typeof options === 'function' ? options : callback;
    const opts = typeof options === 'object' && options !== null ? options : {};
    const address = table[hostname];
    if (address === undefined) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('dns').lookup(hostname, opts, cb);
      return;
    }
    const family = net.isIP(address);
    if (opts.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  };
  return lookup as unknown as typeof import('dns').lookup;
}

/** A request as a hostile server saw it. */
export interface SeenRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** The full Authorization header, when one came: tests assert it never does where it must not. */
  readonly authorization?: string;
  readonly host?: string;
}

export interface ServerOptions {
  /** Serve HTTPS with {@link testCertificate}. Default false. */
  readonly tls?: boolean;
  /** The host name URLs of this server use (a {@link TEST_NAMES} name, resolved with {@link loopbackLookup}). Default 127.0.0.1. */
  readonly name?: string;
}

export interface HostileServer {
  /** `name:port` */
  readonly host: string;
  /** `https://name:port` or `http://name:port` */
  readonly origin: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts a server with its own handler on 127.0.0.1, recording every request. */
export async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
  options: ServerOptions = {},
): Promise<HostileServer> {
  const requests: SeenRequest[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, host: req.headers.host });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handler(req, res, Buffer.concat(chunks));
      } catch (e) {
        res.writeHead(500).end(String((e as Error).message));
      }
    });
  };
  const server = options.tls
    ? https.createServer({ cert: testCertificate().cert, key: testCertificate().key }, listener)
    : http.createServer(listener);
  const sockets = new Set<net.Socket>();
  server.on(options.tls ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const name = options.name ?? '127.0.0.1';
  return {
    host: `${name}:${port}`,
    origin: `${options.tls ? 'https' : 'http'}://${name}:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => resolve());
    }),
  };
}

/** What the fake registry's intercept hook gets: the request, its body, and the registry itself. */
export interface Intercepted {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly body: Buffer;
  readonly registry: FakeRegistry;
}

export interface FakeRegistryOptions extends ServerOptions {
  /** Basic credentials the registry requires (ECR-like); anonymous when neither this nor `bearer`. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** A Bearer challenge naming this realm (any URL, hostile or not); the registry accepts `Bearer <token>`. */
  readonly bearer?: { readonly realm: () => string; readonly token: string };
  /** The Location of a new upload session, from its id. @default - `/v2/<repo>/blobs/uploads/<id>` on the registry itself */
  readonly uploadLocation?: (id: string, repository: string) => string;
  /** Runs before the registry's own handling; returns true when it answered the request. */
  readonly intercept?: (x: Intercepted) => boolean;
}

export interface FakeRegistry extends HostileServer {
  /** Loads an image (children, blobs, manifest) into `repository`, under `tag` and its digest. */
  put(repository: string, tag: string | undefined, image: BuiltImage): void;
  putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): void;
  putBlob(bytes: Buffer): string;
  /** The manifest under `repository:reference`, if any. */
  manifest(repository: string, reference: string): { mediaType: string; bytes: Buffer } | undefined;
  /** The credentials the registry requires, as the engine takes them. */
  credentials(): (registry: string) => Promise<{ username: string; password: string } | undefined>;
}

const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;
const BLOB_PATH = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/;
const UPLOAD_PATH = /^\/v2\/(.+)\/blobs\/uploads\/([^/?]*)$/;

/** An in-memory OCI registry whose behaviour a test bends with `intercept` (see the module comment). */
export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const manifests = new Map<string, { mediaType: string; bytes: Buffer }>();
  const blobs = new Map<string, Buffer>();
  const uploads = new Map<string, Buffer[]>();
  let registry: FakeRegistry | undefined;

  const putManifest = (repository: string, reference: string, mediaType: string, bytes: Buffer) => {
    const entry = { mediaType, bytes };
    manifests.set(`${repository}@${sha256(bytes)}`, entry);
    if (!reference.startsWith('sha256:')) manifests.set(`${repository}:${reference}`, entry);
  };
  const lookupManifest = (repository: string, reference: string) =>
    manifests.get(reference.startsWith('sha256:') ? `${repository}@${reference}` : `${repository}:${reference}`);

  const authorized = (req: http.IncomingMessage): boolean => {
    const got = req.headers.authorization;
    if (options.basic) return got === `Basic ${Buffer.from(`${options.basic.username}:${options.basic.password}`).toString('base64')}`;
    if (options.bearer) return got === `Bearer ${options.bearer.token}`;
    return true;
  };

  const server = await startServer((req, res, body) => {
    if (options.intercept?.({ req, res, body, registry: registry! })) return;
    const url = new URL(req.url ?? '/', 'http://registry');
    if (!authorized(req)) {
      const challenge = options.basic ? 'Basic realm="fake registry"' : `Bearer realm="${options.bearer!.realm()}",service="fake"`;
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200).end('{}');
      return;
    }
    let m = MANIFEST_PATH.exec(url.pathname);
    if (m) {
      const [, repository, reference] = m;
      if (req.method === 'PUT') {
        putManifest(repository, reference, String(req.headers['content-type'] ?? ''), body);
        res.writeHead(201, { 'docker-content-digest': sha256(body), 'location': `/v2/${repository}/manifests/${sha256(body)}` }).end();
        return;
      }
      const found = lookupManifest(repository, reference);
      if (!found) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': found.mediaType, 'docker-content-digest': sha256(found.bytes), 'content-length': found.bytes.length });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
      return;
    }
    m = BLOB_PATH.exec(url.pathname);
    if (m) {
      const found = blobs.get(m[2]);
      if (!found) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': found.length, 'docker-content-digest': m[2] });
      res.end(req.method === 'HEAD' ? undefined : found);
      return;
    }
    m = UPLOAD_PATH.exec(url.pathname);
    if (m) {
      const [, repository, id] = m;
      if (req.method === 'POST') {
        const session = crypto.randomUUID();
        uploads.set(session, []);
        const location = options.uploadLocation?.(session, repository) ?? `/v2/${repository}/blobs/uploads/${session}`;
        res.writeHead(202, { 'location': location, 'docker-upload-uuid': session, 'range': '0-0' }).end();
        return;
      }
      const parts = uploads.get(id);
      if (!parts) {
        res.writeHead(404).end('{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
        return;
      }
      parts.push(body);
      if (req.method === 'PATCH') {
        res.writeHead(202, { location: `/v2/${repository}/blobs/uploads/${id}` }).end();
        return;
      }
      const data = Buffer.concat(parts);
      const digest = url.searchParams.get('digest');
      if (digest !== sha256(data)) {
        res.writeHead(400).end('{"errors":[{"code":"DIGEST_INVALID","message":"digest does not match"}]}');
        return;
      }
      uploads.delete(id);
      blobs.set(digest, data);
      res.writeHead(201, { 'docker-content-digest': digest, 'location': `/v2/${repository}/blobs/${digest}` }).end();
      return;
    }
    res.writeHead(404).end();
  }, options);

  registry = {
    ...server,
    put(repository, tag, image) {
      for (const m of allManifests(image)) {
        m.blobs.forEach((data, digest) => blobs.set(digest, data));
        putManifest(repository, m === image && tag ? tag : m.digest, m.mediaType, m.manifest);
      }
    },
    putManifest,
    putBlob(bytes) {
      const digest = sha256(bytes);
      blobs.set(digest, bytes);
      return digest;
    },
    manifest: lookupManifest,
    credentials: () => async () => (options.basic ? { ...options.basic } : undefined),
  };
  return registry;
}

/** A manifest graph to serve: its top manifest, every manifest under it, and their blobs. */
export interface ManifestGraph {
  readonly top: { readonly mediaType: string; readonly bytes: Buffer; readonly digest: string };
  /** Every distinct manifest under the top one. */
  readonly manifests: { readonly mediaType: string; readonly bytes: Buffer; readonly digest: string }[];
  readonly blobs: Buffer[];
}

/** Loads a graph into a fake registry, its top manifest under `tag`. */
export function serveGraph(registry: FakeRegistry, repository: string, tag: string, graph: ManifestGraph): void {
  graph.blobs.forEach((b) => registry.putBlob(b));
  graph.manifests.forEach((m) => registry.putManifest(repository, m.digest, m.mediaType, m.bytes));
  registry.putManifest(repository, tag, graph.top.mediaType, graph.top.bytes);
}

/** An image manifest padded with an annotation to about `size` bytes, over one small config and layer. */
export function paddedImage(size: number, nonce = crypto.randomBytes(8).toString('hex')): { manifest: ManifestGraph['top']; blobs: Buffer[] } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce }));
  const layer = Buffer.from(`layer ${nonce}`);
  const json = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MEDIA_TYPES.ociLayer, digest: sha256(layer), size: layer.length }],
    annotations: { padding: '' },
  };
  const base = Buffer.byteLength(JSON.stringify(json));
  json.annotations.padding = 'x'.repeat(Math.max(0, size - base));
  const bytes = Buffer.from(JSON.stringify(json));
  return { manifest: { mediaType: MEDIA_TYPES.ociManifest, bytes, digest: sha256(bytes) }, blobs: [config, layer] };
}

function index(entries: { digest: string; size: number; mediaType: string }[]): ManifestGraph['top'] {
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: entries.map((e) => ({ mediaType: e.mediaType, digest: e.digest, size: e.size, platform: { os: 'linux', architecture: 'amd64' } })),
  }));
  return { mediaType: MEDIA_TYPES.ociIndex, bytes, digest: sha256(bytes) };
}

/** An index of `entries` entries that all name one image manifest of about `manifestSize` bytes (the issue's 82 KB index). */
export function amplifyingIndex(entries = 400, manifestSize = 1024 * 1024): ManifestGraph {
  const image = paddedImage(manifestSize);
  const entry = { digest: image.manifest.digest, size: image.manifest.bytes.length, mediaType: image.manifest.mediaType };
  return { top: index(Array.from({ length: entries }, () => entry)), manifests: [image.manifest], blobs: image.blobs };
}

/**
 * Indexes nested `levels` deep, each `width` entries wide, over small image manifests. With
 * `distinct` every entry names a different manifest (width^levels images); without, every entry of
 * a level names the same one (a naive reader still makes width + width^2 + ... requests).
 */
export function nestedIndexes(width = 40, levels = 3, distinct = false): ManifestGraph {
  const manifests: ManifestGraph['manifests'] = [];
  const blobs: Buffer[] = [];
  const build = (level: number): ManifestGraph['top'] => {
    if (level === levels) {
      const image = paddedImage(600);
      manifests.push(image.manifest);
      blobs.push(...image.blobs);
      return image.manifest;
    }
    const children: ManifestGraph['top'][] = [];
    for (let i = 0; i < width; i++) {
      children.push(distinct || i === 0 ? build(level + 1) : children[0]);
    }
    const node = index(children.map((c) => ({ digest: c.digest, size: c.bytes.length, mediaType: c.mediaType })));
    if (level > 0) manifests.push(node);
    return node;
  };
  const top = build(0);
  return { top, manifests, blobs };
}
