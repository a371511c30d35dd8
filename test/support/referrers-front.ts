import * as crypto from 'crypto';
import * as http from 'http';
import * as net from 'net';
import { RegistryTarget } from './images';

/**
 * A referrers-API front for a test registry. Distribution 2.8 (the bed's registry) has no OCI 1.1
 * referrers API; this HTTP proxy on 127.0.0.1 stands in for a registry that has one. Every request
 * goes to the real registry unchanged, except:
 *
 * - a manifest PUT that the registry accepts is read: when it names a `subject`, the front
 *   records its descriptor (media type, digest, size, `artifactType`, annotations) as a referrer
 *   of that subject in that repository, and answers with `OCI-Subject: <subject digest>`, as a
 *   registry with the API does;
 * - `GET /v2/<name>/referrers/<digest>` is answered from those records: an OCI index, filtered by
 *   `?artifactType=` (with `OCI-Filters-Applied: artifactType`, unless `ignoreFilters` is set),
 *   paged `pageSize` entries at a time with `Link: <...>; rel="next"`.
 *
 * So the front knows only the referrers pushed through it (what the registry's storage held
 * before is not indexed), and it does not authenticate the referrers API: use it over a registry
 * without auth. Manifest deletes are not tracked.
 */
export interface ReferrersFrontOptions {
  /** Entries per page of a referrers answer. @default - all on one page */
  readonly pageSize?: number;
  /** Answer as a registry that ignores `artifactType` filters (no `OCI-Filters-Applied`). @default false */
  readonly ignoreFilters?: boolean;
}

export interface ReferrersFront extends RegistryTarget {
  /** '127.0.0.1:PORT' of the front. */
  readonly host: string;
  readonly url: string;
  /** Requests the front answered itself (the referrers API), as `GET /v2/...` lines. */
  readonly referrerRequests: string[];
  /** The referrers recorded for a subject in a repository. */
  referrersOf(repository: string, subject: string): Descriptor[];
  stop(): Promise<void>;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: { [key: string]: string };
}

const MANIFEST_PUT = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;
const REFERRERS = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/;

export async function startReferrersFront(target: RegistryTarget, options: ReferrersFrontOptions = {}): Promise<ReferrersFront> {
  const [targetHostname, targetPort] = target.host.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const records = new Map<string, Descriptor[]>();
  const referrerRequests: string[] = [];
  const sockets = new Set<net.Socket>();
  const key = (repository: string, subject: string) => `${repository}@${subject}`;

  const answerReferrers = (req: http.IncomingMessage, res: http.ServerResponse, repository: string, subject: string, query: URLSearchParams) => {
    referrerRequests.push(`${req.method} ${req.url}`);
    let entries = records.get(key(repository, subject)) ?? [];
    const artifactType = query.get('artifactType');
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
    if (artifactType && !options.ignoreFilters) {
      entries = entries.filter(d => d.artifactType === artifactType);
      headers['oci-filters-applied'] = 'artifactType';
    }
    const page = Number(query.get('page') ?? '0');
    if (options.pageSize) {
      const start = page * options.pageSize;
      if (start + options.pageSize < entries.length) {
        const next = new URLSearchParams(query);
        next.set('page', String(page + 1));
        headers.link = `</v2/${repository}/referrers/${subject}?${next.toString()}>; rel="next"`;
      }
      entries = entries.slice(start, start + options.pageSize);
    }
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const record = (repository: string, body: Buffer, contentType: string | undefined): string | undefined => {
    let json: any;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return undefined;
    }
    const subject = json?.subject?.digest;
    if (typeof subject !== 'string') return undefined;
    const digest = 'sha256:' + crypto.createHash('sha256').update(body).digest('hex');
    const descriptor: Descriptor = {
      mediaType: json.mediaType ?? contentType ?? 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size: body.length,
    };
    const artifactType = json.artifactType ?? json.config?.mediaType;
    if (artifactType) descriptor.artifactType = artifactType;
    if (json.annotations) descriptor.annotations = json.annotations;
    const list = records.get(key(repository, subject)) ?? [];
    if (!list.some(d => d.digest === digest)) list.push(descriptor);
    records.set(key(repository, subject), list);
    return subject;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://front');
    const referrers = REFERRERS.exec(url.pathname);
    if (referrers && (req.method === 'GET' || req.method === 'HEAD')) {
      answerReferrers(req, res, referrers[1], referrers[2], url.searchParams);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers };
      delete headers.connection;
      const upstream = http.request({
        host: targetHostname, port: Number(targetPort), method: req.method, path: req.url, headers, agent,
      }, (up) => {
        const out: http.OutgoingHttpHeaders = { ...up.headers };
        delete out.connection;
        if (typeof out.location === 'string') {
          out.location = out.location.replace(`http://${target.host}`, `http://${front.host}`);
        }
        const put = MANIFEST_PUT.exec(url.pathname);
        if (req.method === 'PUT' && put && up.statusCode === 201) {
          const subject = record(put[1], body, req.headers['content-type']);
          if (subject) out['oci-subject'] = subject;
        }
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
      });
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      upstream.end(body.length > 0 ? body : undefined);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const front: ReferrersFront = {
    auth: target.auth,
    username: target.username,
    password: target.password,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    referrerRequests,
    referrersOf: (repository, subject) => [...(records.get(key(repository, subject)) ?? [])],
    stop: async () => {
      sockets.forEach((s) => s.destroy());
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return front;
}
