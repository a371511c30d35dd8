import * as crypto from 'crypto';
import * as http from 'http';
import * as zlib from 'zlib';
import { RegistryTarget, readBlob, readManifest } from './images';

/**
 * Helm's side of the tests: a chart pulled and checked the way helm's `pkg/registry` pulls it
 * (`Client.Pull`, `processChartPull`): an OCI manifest, only the media types a chart pull allows,
 * the Helm config, exactly one chart layer, the config's version against the tag; then what
 * `helm install` loads: the archive's entries under `<name>/` and its Chart.yaml's name and
 * version. Each failure throws, naming the rule.
 */

export const HELM = {
  config: 'application/vnd.cncf.helm.config.v1+json',
  chart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  prov: 'application/vnd.cncf.helm.chart.provenance.v1.prov',
  legacyChart: 'application/tar+gzip',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
};

export interface PulledChart {
  readonly digest: string;
  readonly manifest: any;
  readonly manifestBytes: Buffer;
  readonly config: any;
  readonly archive: Buffer;
  readonly prov?: Buffer;
  /** The archive's entries: path -> bytes. */
  readonly files: Map<string, Buffer>;
}

/** Pulls `repo:tag` as helm does and checks it by helm's rules. */
export async function pullChartLikeHelm(reg: RegistryTarget, repo: string, tag: string): Promise<PulledChart> {
  const got = await readManifest(reg, repo, tag);
  if (!got) throw new Error(`fails helm pull: ${repo}:${tag} not found`);
  if (got.mediaType !== HELM.manifest) throw new Error(`fails helm pull: manifest media type ${got.mediaType}`);
  const manifest = JSON.parse(got.body.toString('utf8'));
  const allowed = new Set([HELM.config, HELM.chart, HELM.legacyChart, HELM.prov]);
  const descriptors = [manifest.config, ...manifest.layers];
  for (const d of descriptors) {
    if (!allowed.has(d.mediaType)) throw new Error(`fails helm pull: media type ${d.mediaType} is not one a chart pull allows`);
  }
  if (manifest.config.mediaType !== HELM.config) throw new Error(`fails helm pull: could not load config with mediatype ${HELM.config}`);
  const chartLayers = manifest.layers.filter((l: any) => l.mediaType === HELM.chart || l.mediaType === HELM.legacyChart);
  if (chartLayers.length !== 1) throw new Error(`fails helm pull: ${chartLayers.length} chart layers, expected exactly one`);
  const provLayers = manifest.layers.filter((l: any) => l.mediaType === HELM.prov);
  if (provLayers.length > 1) throw new Error('fails helm pull: more than one provenance layer');
  const blob = async (d: any) => {
    const bytes = await readBlob(reg, repo, d.digest);
    if (!bytes) throw new Error(`fails helm pull: blob ${d.digest} missing`);
    if (bytes.length !== d.size) throw new Error(`fails helm pull: blob ${d.digest} is ${bytes.length} bytes, descriptor says ${d.size}`);
    if (`sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}` !== d.digest) throw new Error(`fails helm pull: blob ${d.digest} does not hash to its digest`);
    return bytes;
  };
  const config = JSON.parse((await blob(manifest.config)).toString('utf8'));
  if (String(config.version).replace(/\+/g, '_') !== tag) {
    throw new Error(`fails helm pull: chart reference and version mismatch: ${config.version} is not ${tag}`);
  }
  const archive = await blob(chartLayers[0]);
  const prov = provLayers.length === 1 ? await blob(provLayers[0]) : undefined;
  const files = untar(zlib.gunzipSync(archive));
  for (const name of files.keys()) {
    if (!name.startsWith(`${config.name}/`)) throw new Error(`fails helm load: archive entry ${name} is not under ${config.name}/`);
  }
  const chartYaml = files.get(`${config.name}/Chart.yaml`);
  if (!chartYaml) throw new Error(`fails helm load: no ${config.name}/Chart.yaml`);
  const text = chartYaml.toString('utf8');
  const field = (key: string) => new RegExp(`^${key}:\\s*"?([^"\\n]+?)"?\\s*$`, 'm').exec(text)?.[1];
  if (field('name') !== config.name) throw new Error(`fails helm load: Chart.yaml name ${field('name')} is not the config's ${config.name}`);
  if (field('version') !== config.version) throw new Error(`fails helm load: Chart.yaml version ${field('version')} is not the config's ${config.version}`);
  return { digest: got.digest, manifest, manifestBytes: got.body, config, archive, prov, files };
}

/** A plain ustar reader for the tests (regular files, with the ustar prefix and PAX paths). */
export function untar(tar: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let offset = 0;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const h = tar.subarray(offset, offset + 512);
    if (h.every(b => b === 0)) break;
    const str = (a: number, b: number) => { const s = h.subarray(a, b); const z = s.indexOf(0); return s.subarray(0, z < 0 ? s.length : z).toString('utf8'); };
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const data = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      paxPath = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1];
      continue;
    }
    const prefix = str(345, 500);
    const name = paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    paxPath = undefined;
    if (type === '0') out.set(name, Buffer.from(data));
  }
  return out;
}

/** The header fields of every entry: mode, uid, gid, mtime, owner names. */
export function tarHeaders(tar: Buffer): { name: string; mode: number; uid: number; gid: number; mtime: number; uname: string; gname: string }[] {
  const out = [];
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const h = tar.subarray(offset, offset + 512);
    if (h.every(b => b === 0)) break;
    const str = (a: number, b: number) => { const s = h.subarray(a, b); const z = s.indexOf(0); return s.subarray(0, z < 0 ? s.length : z).toString('utf8'); };
    const size = parseInt(str(124, 136).trim() || '0', 8);
    out.push({
      name: str(0, 100),
      mode: parseInt(str(100, 108), 8),
      uid: parseInt(str(108, 116), 8),
      gid: parseInt(str(116, 124), 8),
      mtime: parseInt(str(136, 148), 8),
      uname: str(265, 297),
      gname: str(297, 329),
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

export interface ClassicRepoChart {
  readonly name: string;
  readonly version: string;
  readonly archive: Buffer;
  /** The URL the index gives: relative (default `NAME-VERSION.tgz`) or absolute. */
  readonly url?: string;
  /** The digest the index gives (default: the archive's sha256, hex). */
  readonly digest?: string;
  readonly created?: string;
}

export interface ClassicRepo {
  /** `http://127.0.0.1:PORT/charts` */
  readonly url: string;
  readonly origin: string;
  /** Paths requested so far. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/**
 * A classic Helm repository on loopback: `index.yaml` as `helm repo index` writes it, archives
 * under the repository path (an absolute URL written `ORIGIN/path` is served at that path), optional
 * Basic auth.
 */
export async function startClassicRepo(
  charts: ClassicRepoChart[], options: { auth?: { username: string; password: string } } = {},
): Promise<ClassicRepo> {
  const files = new Map<string, Buffer>();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (options.auth) {
      const expected = 'Basic ' + Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end();
        return;
      }
    }
    const body = files.get((req.url ?? '').split('?')[0]);
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const byName = new Map<string, ClassicRepoChart[]>();
  for (const c of charts) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  const lines = ['apiVersion: v1', 'entries:'];
  for (const [name, versions] of byName) {
    lines.push(`  ${name}:`);
    for (const c of versions) {
      // `ORIGIN` in a URL stands for this server's origin (an absolute URL elsewhere on it).
      const url = (c.url ?? `${c.name}-${c.version}.tgz`).replace('ORIGIN', origin);
      const path = url.startsWith('http') ? new URL(url).pathname : `/charts/${url}`;
      files.set(path, c.archive);
      lines.push(
        '  - apiVersion: v2',
        `    created: "${c.created ?? '2026-03-04T05:06:07.123456789Z'}"`,
        '    description: |-',
        '      A chart served by the test repository:',
        '      two lines.',
        `    digest: ${c.digest ?? crypto.createHash('sha256').update(c.archive).digest('hex')}`,
        `    name: ${c.name}`,
        '    type: application',
        '    urls:',
        `    - ${url}`,
        `    version: ${c.version}`,
      );
    }
  }
  lines.push('generated: "2026-03-04T05:06:08.000000000Z"', '');
  files.set('/charts/index.yaml', Buffer.from(lines.join('\n')));
  return {
    url: `${origin}/charts`,
    origin,
    requests,
    stop: () => new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
