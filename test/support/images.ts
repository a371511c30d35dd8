import * as crypto from 'crypto';
import * as http from 'http';
import * as https from 'https';
import { Readable, Transform } from 'stream';
import * as zlib from 'zlib';
import { RegistryAuth } from './registry';

/**
 * An image factory and a tiny registry client of its own. It deliberately shares no code with
 * the copy engine (`src/sync`), so that tests can push with one client, copy with the engine and
 * read back with this one: an independent check of what the engine wrote.
 */

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
  helmChart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  spdx: 'application/spdx+json',
} as const;

/** Every manifest media type, for an Accept header. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.dockerManifest,
].join(', ');

/** The registry as the image client needs it (a `TestRegistry`, or a proxy in front of one). */
export interface RegistryTarget {
  readonly host: string;
  /** 'https://...' for a TLS registry; default 'http://' + host. */
  readonly url?: string;
  /** A TLS registry's CA certificate (PEM). */
  readonly tls?: { readonly ca: string };
  readonly auth: RegistryAuth;
  readonly username?: string;
  readonly password?: string;
}

export interface BuiltImage {
  /** The manifest's exact bytes (indented with 3 spaces: a client that re-serializes changes the digest). */
  readonly manifest: Buffer;
  readonly mediaType: string;
  /** sha256 of `manifest`. */
  readonly digest: string;
  /** Config and layer blobs this manifest references directly (empty for an index; see `allBlobs`). */
  readonly blobs: Map<string, Buffer>;
  /** Platform manifests of an index, in index order; empty for an image or an artifact. */
  readonly children: BuiltImage[];
  /** The platform ('linux/arm64/v8') of a platform image. */
  readonly platform?: string;
  /** The artifact's `artifactType`, when it has one. */
  readonly artifactType?: string;
  /** The manifest an artifact refers to with `subject` (pushed first by `pushImage`). */
  readonly subject?: BuiltImage;
}

export interface BuildImageOptions {
  /** Approximate size in bytes of each layer's content; default one 1 KiB layer. */
  readonly layers?: number[];
  readonly format?: 'oci' | 'docker';
  /** Default 'linux/amd64'. */
  readonly platform?: string;
  /** Text-like content that gzip shrinks, instead of random bytes; default false. */
  readonly compressible?: boolean;
}

/** A single-platform image: random gzip'd tar layers, a config whose diff_ids match them, a manifest. */
export function buildImage(o: BuildImageOptions = {}): BuiltImage {
  const format = o.format ?? 'oci';
  const platform = o.platform ?? 'linux/amd64';
  const { os, architecture, variant } = parsePlatform(platform);
  const blobs = new Map<string, Buffer>();
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  (o.layers ?? [1024]).forEach((size, i) => {
    const content = o.compressible ? compressibleBytes(size) : crypto.randomBytes(size);
    const tar = makeTar([{ name: `layer${i}/file.bin`, data: content }]);
    const gz = zlib.gzipSync(tar, { level: 1 });
    diffIds.push(sha256(tar));
    blobs.set(sha256(gz), gz);
    layers.push({ mediaType: format === 'oci' ? MEDIA_TYPES.ociLayer : MEDIA_TYPES.dockerLayer, digest: sha256(gz), size: gz.length });
  });
  const config = Buffer.from(JSON.stringify({
    created: '2026-01-01T00:00:00Z',
    architecture,
    os,
    ...(variant ? { variant } : {}),
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Labels: { 'test.nonce': crypto.randomBytes(8).toString('hex') } },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'test image factory' })),
  }));
  blobs.set(sha256(config), config);
  const manifest = encode({
    schemaVersion: 2,
    mediaType: format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
    config: { mediaType: format === 'oci' ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig, digest: sha256(config), size: config.length },
    layers,
  });
  return {
    manifest,
    mediaType: format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
    digest: sha256(manifest),
    blobs,
    children: [],
    platform,
  };
}

export interface BuildIndexOptions {
  readonly platforms: string[];
  readonly layers?: number[];
  readonly format?: 'oci' | 'docker';
  /**
   * OCI only: after each platform image, an attestation manifest as `docker buildx` writes it
   * (platform unknown/unknown, an in-toto layer, annotations naming the image it describes).
   */
  readonly attestations?: boolean;
}

/** A multi-platform image: an OCI index or a Docker manifest list over one image per platform. */
export function buildIndex(o: BuildIndexOptions): BuiltImage {
  const format = o.format ?? 'oci';
  if (o.attestations && format !== 'oci') throw new Error('fails: attestation manifests need an OCI index');
  const images = o.platforms.map((platform) => buildImage({ layers: o.layers, format, platform }));
  const children: BuiltImage[] = [];
  const entries: unknown[] = [];
  for (const c of images) {
    const { os, architecture, variant } = parsePlatform(c.platform!);
    children.push(c);
    const platform = { architecture, os, ...(variant ? { variant } : {}) };
    entries.push({ mediaType: c.mediaType, digest: c.digest, size: c.manifest.length, platform });
    if (o.attestations) {
      const att = buildAttestation(c);
      children.push(att);
      entries.push({
        mediaType: att.mediaType,
        digest: att.digest,
        size: att.manifest.length,
        annotations: { 'vnd.docker.reference.digest': c.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
        platform: { architecture: 'unknown', os: 'unknown' },
      });
    }
  }
  const mediaType = format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList;
  const manifest = encode({ schemaVersion: 2, mediaType, manifests: entries });
  return { manifest, mediaType, digest: sha256(manifest), blobs: new Map(), children };
}

/** A buildx-style provenance attestation for an image. */
function buildAttestation(image: BuiltImage): BuiltImage {
  const statement = Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [{ name: 'pkg:docker/example/app', digest: { sha256: image.digest.slice('sha256:'.length) } }],
    predicate: { builder: { id: 'test image factory' }, nonce: crypto.randomBytes(8).toString('hex') },
  }));
  const config = Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(statement)] } }));
  const manifest = encode({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256(config), size: config.length },
    layers: [{
      mediaType: 'application/vnd.in-toto+json',
      digest: sha256(statement),
      size: statement.length,
      annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' },
    }],
  });
  return {
    manifest,
    mediaType: MEDIA_TYPES.ociManifest,
    digest: sha256(manifest),
    blobs: new Map([[sha256(config), config], [sha256(statement), statement]]),
    children: [],
    platform: 'unknown/unknown',
  };
}

/**
 * An OCI artifact. 'helm': a chart as `helm push` writes it (Helm config and chart media types,
 * a real chart .tgz). 'sbom': an SPDX document with `artifactType` and the empty config.
 * With `subject`, the manifest refers to that image (as signatures and SBOMs do).
 */
export function buildArtifact(o: { kind?: 'helm' | 'sbom'; subject?: BuiltImage } = {}): BuiltImage {
  const kind = o.kind ?? 'helm';
  const blobs = new Map<string, Buffer>();
  const nonce = crypto.randomBytes(6).toString('hex');
  let config: Descriptor;
  let layers: Descriptor[];
  let artifactType: string | undefined;
  if (kind === 'helm') {
    const version = `0.1.0-t${nonce}`;
    const chartJson = Buffer.from(JSON.stringify({ name: 'demo', version, apiVersion: 'v2', appVersion: '1.0.0', type: 'application' }));
    const chart = zlib.gzipSync(makeTar([
      { name: 'demo/Chart.yaml', data: Buffer.from(`apiVersion: v2\nname: demo\nversion: ${version}\nappVersion: "1.0.0"\ntype: application\n`) },
      { name: 'demo/values.yaml', data: Buffer.from(`replicaCount: 1\nimage:\n  repository: example/demo\n  tag: "${nonce}"\n`) },
      { name: 'demo/templates/configmap.yaml', data: Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n') },
    ]));
    blobs.set(sha256(chartJson), chartJson);
    blobs.set(sha256(chart), chart);
    config = { mediaType: MEDIA_TYPES.helmConfig, digest: sha256(chartJson), size: chartJson.length };
    layers = [{
      mediaType: MEDIA_TYPES.helmChart,
      digest: sha256(chart),
      size: chart.length,
      annotations: { 'org.opencontainers.image.title': `demo-${version}.tgz` },
    }];
  } else {
    const empty = Buffer.from('{}');
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: `sbom-${nonce}`, packages: [] }));
    blobs.set(sha256(empty), empty);
    blobs.set(sha256(sbom), sbom);
    artifactType = MEDIA_TYPES.spdx;
    config = { mediaType: MEDIA_TYPES.ociEmpty, digest: sha256(empty), size: empty.length, data: empty.toString('base64') };
    layers = [{ mediaType: MEDIA_TYPES.spdx, digest: sha256(sbom), size: sbom.length }];
  }
  const manifest = encode({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    ...(artifactType ? { artifactType } : {}),
    config,
    layers,
    ...(o.subject ? { subject: { mediaType: o.subject.mediaType, digest: o.subject.digest, size: o.subject.manifest.length } } : {}),
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  });
  return { manifest, mediaType: MEDIA_TYPES.ociManifest, digest: sha256(manifest), blobs, children: [], artifactType, subject: o.subject };
}

/** Every blob of an image and of its children (not of its subject). */
export function allBlobs(img: BuiltImage): Map<string, Buffer> {
  const out = new Map(img.blobs);
  for (const child of img.children) {
    for (const [d, b] of allBlobs(child)) out.set(d, b);
  }
  return out;
}

/** Every manifest of an image: children first, then the image itself. */
export function allManifests(img: BuiltImage): BuiltImage[] {
  return [...img.children.flatMap(allManifests), img];
}

/**
 * Pushes an image (its subject, children and blobs first, the manifest under `tag` last, or by
 * digest when `tag` is undefined) and returns the digest the registry reports.
 */
export async function pushImage(reg: RegistryTarget, repo: string, tag: string | undefined, img: BuiltImage): Promise<string> {
  const client = clientFor(reg);
  if (img.subject) await pushImage(reg, repo, undefined, img.subject);
  for (const child of img.children) await pushImage(reg, repo, undefined, child);
  for (const [digest, data] of img.blobs) {
    if (!(await blobExists(reg, repo, digest))) await uploadBlob(reg, repo, digest, data);
  }
  const res = await client.request('PUT', `/v2/${repo}/manifests/${tag ?? img.digest}`, repo, 'push', {
    headers: { 'Content-Type': img.mediaType },
    body: img.manifest,
  });
  if (res.status !== 201) throw new Error(`fails to push manifest ${repo}:${tag ?? img.digest}: ${res.status} ${res.body.toString('utf8')}`);
  const digest = res.headers['docker-content-digest'] as string | undefined;
  if (digest !== img.digest) throw new Error(`fails to push manifest ${repo}: registry says ${digest}, expected ${img.digest}`);
  return digest;
}

export interface ReadManifest {
  readonly body: Buffer;
  readonly mediaType: string;
  readonly digest: string;
}

/** Reads a manifest by tag or digest; verifies its digest; undefined when the registry says 404. */
export async function readManifest(reg: RegistryTarget, repo: string, ref: string): Promise<ReadManifest | undefined> {
  const res = await clientFor(reg).request('GET', `/v2/${repo}/manifests/${ref}`, repo, 'pull', { headers: { Accept: MANIFEST_ACCEPT } });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`fails to read manifest ${repo}:${ref}: ${res.status} ${res.body.toString('utf8')}`);
  const digest = sha256(res.body);
  const reported = res.headers['docker-content-digest'];
  if (reported !== undefined && reported !== digest) {
    throw new Error(`fails to verify manifest ${repo}:${ref}: body is ${digest}, registry says ${reported}`);
  }
  if (ref.startsWith('sha256:') && ref !== digest) throw new Error(`fails to verify manifest ${repo}@${ref}: body is ${digest}`);
  return { body: res.body, mediaType: String(res.headers['content-type'] ?? ''), digest };
}

export async function blobExists(reg: RegistryTarget, repo: string, digest: string): Promise<boolean> {
  const res = await clientFor(reg).request('HEAD', `/v2/${repo}/blobs/${digest}`, repo, 'pull', {});
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw new Error(`fails to check blob ${repo}@${digest}: ${res.status}`);
}

/** Reads a blob and verifies its digest; undefined when absent. */
export async function readBlob(reg: RegistryTarget, repo: string, digest: string): Promise<Buffer | undefined> {
  const res = await clientFor(reg).request('GET', `/v2/${repo}/blobs/${digest}`, repo, 'pull', {});
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`fails to read blob ${repo}@${digest}: ${res.status}`);
  if (sha256(res.body) !== digest) throw new Error(`fails to verify blob ${repo}@${digest}: body is ${sha256(res.body)}`);
  return res.body;
}

export async function listTags(reg: RegistryTarget, repo: string): Promise<string[]> {
  const res = await clientFor(reg).request('GET', `/v2/${repo}/tags/list`, repo, 'pull', {});
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`fails to list tags of ${repo}: ${res.status}`);
  return (JSON.parse(res.body.toString('utf8')).tags ?? []).sort();
}

/**
 * Checks that `repo:ref` holds exactly `img`: the manifest bytes, every child manifest and every
 * blob, byte for byte. Throws a message naming what differs.
 */
export async function expectImage(reg: RegistryTarget, repo: string, ref: string, img: BuiltImage): Promise<void> {
  const got = await readManifest(reg, repo, ref);
  if (!got) throw new Error(`fails: ${repo}:${ref} is missing, expected ${img.digest}`);
  if (got.digest !== img.digest || !got.body.equals(img.manifest)) {
    throw new Error(`fails: ${repo}:${ref} is ${got.digest}, expected ${img.digest}`);
  }
  if (got.mediaType !== img.mediaType) throw new Error(`fails: ${repo}:${ref} has media type ${got.mediaType}, expected ${img.mediaType}`);
  for (const child of img.children) await expectImage(reg, repo, child.digest, child);
  for (const [digest, data] of img.blobs) {
    const blob = await readBlob(reg, repo, digest);
    if (!blob || !blob.equals(data)) throw new Error(`fails: blob ${digest} of ${repo}:${ref} is ${blob ? 'different' : 'missing'}`);
  }
}

/** Uploads a blob the way every registry accepts: POST to open a session, then one PUT with the body. */
export async function uploadBlob(reg: RegistryTarget, repo: string, digest: string, data: Buffer | (() => Readable), size?: number): Promise<void> {
  const client = clientFor(reg);
  const start = await client.request('POST', `/v2/${repo}/blobs/uploads/`, repo, 'push', { headers: { 'Content-Length': '0' } });
  if (start.status !== 202) throw new Error(`fails to start upload to ${repo}: ${start.status} ${start.body.toString('utf8')}`);
  const location = withDigest(String(start.headers.location), digest);
  const length = Buffer.isBuffer(data) ? data.length : size;
  if (length === undefined) throw new Error('fails: a streamed upload needs its size');
  const res = await client.request('PUT', location, repo, 'push', {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) },
    body: Buffer.isBuffer(data) ? data : data(),
  });
  if (res.status !== 201) throw new Error(`fails to upload blob ${digest} to ${repo}: ${res.status} ${res.body.toString('utf8')}`);
}

/** A pass-through stream that computes the sha256 digest and size of what flows through it. */
export function digestingStream(): Transform & { result(): { digest: string; size: number } } {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return Object.assign(stream, { result: () => ({ digest: `sha256:${hash.digest('hex')}`, size }) });
}

/**
 * Uploads a stream of unknown digest in one pass: POST, one streamed PATCH (digest computed while
 * sending), then PUT `?digest=`. Returns the digest and size. Used for large benchmark layers that
 * must never sit in memory.
 */
export async function uploadStreamedBlob(reg: RegistryTarget, repo: string, stream: Readable): Promise<{ digest: string; size: number }> {
  const client = clientFor(reg);
  const start = await client.request('POST', `/v2/${repo}/blobs/uploads/`, repo, 'push', { headers: { 'Content-Length': '0' } });
  if (start.status !== 202) throw new Error(`fails to start upload to ${repo}: ${start.status}`);
  const counted = digestingStream();
  const patch = await client.request('PATCH', String(start.headers.location), repo, 'push', {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: stream.on('error', (e) => counted.destroy(e)).pipe(counted),
  });
  if (patch.status !== 202) throw new Error(`fails to send blob data to ${repo}: ${patch.status} ${patch.body.toString('utf8')}`);
  const { digest, size } = counted.result();
  const done = await client.request('PUT', withDigest(String(patch.headers.location), digest), repo, 'push', { headers: { 'Content-Length': '0' } });
  if (done.status !== 201) throw new Error(`fails to commit blob ${digest} to ${repo}: ${done.status} ${done.body.toString('utf8')}`);
  return { digest, size };
}

/** Writes a manifest (no blob checks); returns the digest the registry reports. */
export async function putManifest(reg: RegistryTarget, repo: string, ref: string, mediaType: string, body: Buffer): Promise<string> {
  const res = await clientFor(reg).request('PUT', `/v2/${repo}/manifests/${ref}`, repo, 'push', { headers: { 'Content-Type': mediaType }, body });
  if (res.status !== 201) throw new Error(`fails to put manifest ${repo}:${ref}: ${res.status} ${res.body.toString('utf8')}`);
  return String(res.headers['docker-content-digest']);
}

/** A deterministic stream of pseudo-random bytes (AES-CTR keystream): the same seed replays the same bytes. */
export function randomStream(seed: Buffer, size: number, chunkSize = 1024 * 1024): Readable {
  const cipher = crypto.createCipheriv('aes-128-ctr', seed.subarray(0, 16), Buffer.alloc(16));
  const zeros = Buffer.alloc(chunkSize);
  let left = size;
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, chunkSize);
      left -= n;
      this.push(cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n)));
    },
  });
}

export function sha256(data: Buffer | string): string {
  return `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
}

export function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = platform.split('/');
  if (!os || !architecture) throw new Error(`fails to parse platform ${JSON.stringify(platform)}: expected os/arch[/variant]`);
  return { os, architecture, variant };
}

/** A minimal ustar archive. */
export function makeTar(entries: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { name, data } of entries) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    header.write((1767225600).toString(8).padStart(11, '0') + '\0', 136);
    header.fill(' ', 148, 156);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    parts.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  data?: string;
}

function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 3) + '\n');
}

function compressibleBytes(size: number): Buffer {
  const line = `compressible line ${crypto.randomBytes(8).toString('hex')} lorem ipsum dolor sit amet\n`;
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

// ---- the tiny client -------------------------------------------------------------------------

interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const tlsAgents = new Map<string, https.Agent>();

/** One keep-alive HTTPS agent per CA. */
function tlsAgent(ca: string): https.Agent {
  let found = tlsAgents.get(ca);
  if (!found) {
    found = new https.Agent({ keepAlive: true, maxSockets: 16, ca });
    tlsAgents.set(ca, found);
  }
  return found;
}

class TinyClient {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly reg: RegistryTarget) {}

  /** One request; on a Bearer challenge fetches a token for `repo` and retries once (replayable bodies only). */
  async request(method: string, pathOrUrl: string, repo: string, action: 'pull' | 'push',
    opts: { headers?: Record<string, string>; body?: Buffer | Readable }): Promise<ClientResponse> {
    const scope = `repository:${repo}:${action === 'push' ? 'pull,push' : 'pull'}`;
    if (this.reg.auth === 'token' && !this.tokens.has(scope) && !Buffer.isBuffer(opts.body) && opts.body !== undefined) {
      // A stream cannot be replayed after a 401: get the token first.
      await this.fetchToken(await this.challenge(repo), scope);
    }
    let res = await this.send(method, pathOrUrl, opts, this.authorization(scope));
    const bearer = /^bearer /i.test(String(res.headers['www-authenticate'] ?? ''));
    if (res.status === 401 && bearer && (opts.body === undefined || Buffer.isBuffer(opts.body))) {
      await this.fetchToken(String(res.headers['www-authenticate'] ?? ''), scope);
      res = await this.send(method, pathOrUrl, opts, this.authorization(scope));
    }
    return res;
  }

  private authorization(scope: string): string | undefined {
    if (this.reg.auth === 'basic' && this.reg.username !== undefined) return `Basic ${Buffer.from(`${this.reg.username}:${this.reg.password}`).toString('base64')}`;
    const token = this.tokens.get(scope);
    return token ? `Bearer ${token}` : undefined;
  }

  private async challenge(repo: string): Promise<string> {
    const res = await this.send('GET', `/v2/${repo}/tags/list`, {}, undefined);
    return String(res.headers['www-authenticate'] ?? '');
  }

  private async fetchToken(challenge: string, scope: string): Promise<void> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) throw new Error(`fails: expected a Bearer challenge, got ${JSON.stringify(challenge)}`);
    const url = new URL(params.realm);
    url.searchParams.set('service', params.service ?? '');
    url.searchParams.set('scope', scope);
    const res = await this.send('GET', url.toString(), {
      // Without an account, the token request is anonymous (public images).
      headers: this.reg.username !== undefined
        ? { Authorization: `Basic ${Buffer.from(`${this.reg.username}:${this.reg.password}`).toString('base64')}` }
        : {},
    }, undefined);
    if (res.status !== 200) throw new Error(`fails to get a token for ${scope}: ${res.status}`);
    this.tokens.set(scope, JSON.parse(res.body.toString('utf8')).token);
  }

  private send(method: string, pathOrUrl: string, opts: { headers?: Record<string, string>; body?: Buffer | Readable },
    authorization: string | undefined, retried = false): Promise<ClientResponse> {
    const url = new URL(pathOrUrl, this.reg.url ?? `http://${this.reg.host}`);
    const headers: Record<string, string> = { ...opts.headers };
    if (authorization && url.host === this.reg.host) headers.Authorization = authorization;
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = String(opts.body.length);
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const via = secure ? (this.reg.tls ? tlsAgent(this.reg.tls.ca) : https.globalAgent) : agent;
      const req = (secure ? https : http).request(url, { method, headers, agent: via }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A kept-alive socket may have been closed by the server (or a stopped registry) meanwhile.
        // Only bodiless requests are replayed: a reset upload is a fault a test may have injected.
        const replayable = opts.body === undefined;
        if (req.reusedSocket && !retried && replayable && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
          this.send(method, pathOrUrl, opts, authorization, true).then(resolve, reject);
        } else {
          reject(e);
        }
      });
      if (opts.body === undefined) req.end();
      else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
      else opts.body.on('error', (e) => req.destroy(e)).pipe(req);
    });
  }
}

const clients = new WeakMap<RegistryTarget, TinyClient>();

function clientFor(reg: RegistryTarget): TinyClient {
  let client = clients.get(reg);
  if (!client) {
    client = new TinyClient(reg);
    clients.set(reg, client);
  }
  return client;
}
