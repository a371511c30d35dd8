import * as crypto from 'crypto';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import { RegistryTarget } from './images';
import { RegistryAuth, RegistryCredentials } from './registry';
import { bedTls, registerTlsHost, unregisterTlsHost } from './tls';

/**
 * A fault-injecting HTTP proxy in front of a test registry. Clients talk to `proxy.host` as if it
 * were the registry; the proxy forwards over keep-alive connections, rewrites `Location` headers
 * so uploads keep going through it, records every request, and injects the faults it is given:
 *
 * - `status`: answer the status (e.g. 500, 503, 429 with `Retry-After`) without forwarding.
 * - `reset-mid-body`: forward, then reset the connection (TCP RST) after `afterBytes` bytes of
 *   the response body, or of the request body for a request that carries one (an upload).
 * - `truncate`: forward, send only `afterBytes` bytes of the response body, then close cleanly.
 * - `corrupt`: forward, flipping the bits of the response body's byte at `atByte`.
 * - `redirect-blobs`: answer blob GETs with a 307 to a second listener on another host
 *   (`localhost:PORT2`), like ECR's pre-signed S3 URLs; that host serves the blob and answers
 *   400 to any request that carries an `Authorization` header, as S3 does.
 * - `expire-token`: answer 401 with the registry's own challenge (`error="invalid_token"` for
 *   token auth), as if the client's token had expired mid-copy. A Bearer token expired this way
 *   stays expired: every later request that presents it gets the same 401 (without using up
 *   `times`), so only a client that fetches a new token gets through.
 * - `delay`: wait `ms` before forwarding (a slow registry).
 * - `immutable-tags`: like an ECR repository with immutable tags, refuse a manifest PUT to a tag
 *   the registry already has, even with the same digest: 400 `TAG_INVALID`.
 * - `throttle`: forward, but move request and response bodies at about `bytesPerSecond`
 *   (a slow link: lets a deadline fall in the middle of a blob).
 *
 * A fault applies to requests that match `match` (method, and a regular expression over the path
 * and query), `times` times (default: every matching request). Body faults (reset on a response,
 * truncate, corrupt) only count on responses that have a body (status 200 or 206).
 *
 * In front of a TLS registry (one with `tls`), the proxy and its redirect host speak HTTPS with the
 * bed's certificate, and a reset is an abrupt close of the connection.
 *
 * The proxy runs on the test's own event loop: run child processes that talk through it
 * asynchronously (`execFile`, not `execFileSync`), or they wait for an answer that never comes.
 */

export type Fault = { match: { method?: string; path?: RegExp }; times?: number } & (
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'reset-mid-body'; afterBytes: number }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'corrupt'; atByte: number }
  | { kind: 'redirect-blobs' }
  | { kind: 'expire-token' }
  | { kind: 'delay'; ms: number }
  | { kind: 'immutable-tags' }
  | { kind: 'throttle'; bytesPerSecond: number }
);

export interface ProxyRequestRecord {
  readonly method: string;
  /** Path and query as the client sent them. */
  readonly path: string;
  /** The status sent to the client; 0 when the connection was reset or cut before a status. */
  status: number;
  /** The Authorization header's scheme ('Basic', 'Bearer'), never its value; undefined when absent. */
  readonly authorization?: string;
  /** 'proxy' for requests to the proxy; 'redirect' for requests to the redirect host. */
  readonly listener: 'proxy' | 'redirect';
  /** The fault kind injected into this request, if any. */
  fault?: Fault['kind'];
  /** Bytes of request body received from the client. */
  requestBytes: number;
  /** Bytes of response body sent to the client. */
  responseBytes: number;
  /** The upload session this request belongs to (from its path, or from the Location it was answered with). */
  uploadId?: string;
}

export interface FaultProxy extends RegistryTarget {
  /** '127.0.0.1:PORT' of the proxy. */
  readonly host: string;
  readonly url: string;
  readonly auth: RegistryAuth;
  readonly username?: string;
  readonly password?: string;
  /** 'localhost:PORT2', where redirected blob GETs go. */
  readonly redirectHost: string;
  /** In front of a TLS registry: the bed's CA. */
  readonly tls?: { readonly ca: string; readonly certDir?: string };
  readonly requests: ProxyRequestRecord[];
  /** Replaces the faults (an empty list makes the proxy a plain pass-through). */
  setFaults(f: Fault[]): void;
  clearRequests(): void;
  /** Requests per blob digest, counting every request whose path names the digest (HEAD, GET, PUT ?digest=). */
  requestsPerBlob(): Map<string, ProxyRequestRecord[]>;
  /** The target registry's credentials, for clients of the proxy. */
  credentials(): (registry: string) => Promise<RegistryCredentials | undefined>;
  stop(): Promise<void>;
}

interface ProxyTarget extends RegistryTarget {
  /** A TLS target: the proxy trusts its CA and passes on its cert dir. */
  readonly tls?: { readonly ca: string; readonly certDir?: string };
  credentials?(): (registry: string) => Promise<RegistryCredentials | undefined>;
}

interface ActiveFault {
  fault: Fault;
  left: number;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const UPLOAD_ID = /\/blobs\/uploads\/([0-9a-f-]{36})/;
const BLOB_GET = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})(\?.*)?$/;

export async function startFaultProxy(target: ProxyTarget): Promise<FaultProxy> {
  const [targetHostname, targetPortText] = splitHost(target.host);
  const targetPort = Number(targetPortText);
  const tls = target.tls;
  const protocol = tls ? 'https' : 'http';
  const client: { request: typeof http.request } = tls ? https : http;
  const upstreamAgent = tls ? new https.Agent({ keepAlive: true, maxSockets: 64, ca: tls.ca }) : new http.Agent({ keepAlive: true, maxSockets: 64 });
  const requests: ProxyRequestRecord[] = [];
  let faults: ActiveFault[] = [];
  const expiredTokens = new Set<string>();
  const signedUrls = new Map<string, { path: string; authorization?: string }>();
  const challenge = await fetchChallenge(targetHostname, targetPort, tls?.ca);
  const sockets = new Set<net.Socket>();

  const take = (req: http.IncomingMessage, kinds?: Fault['kind'][]): ActiveFault | undefined => {
    const found = faults.find((f) => f.left > 0
      && (kinds === undefined || kinds.includes(f.fault.kind))
      && (f.fault.match.method === undefined || f.fault.match.method.toUpperCase() === req.method)
      && (f.fault.match.path === undefined || f.fault.match.path.test(req.url ?? ''))
      && (f.fault.kind !== 'redirect-blobs' || (req.method === 'GET' && BLOB_GET.test(req.url ?? ''))));
    if (found) found.left--;
    return found;
  };

  let proxyHost = '';
  let redirectHost = '';

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, record: ProxyRequestRecord,
    upstreamPath: string, active: ActiveFault | undefined, authorization: string | undefined) => {
    const fault = active?.fault;
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: target.host };
    delete headers.connection;
    if (authorization === undefined) delete headers.authorization;
    else headers.authorization = authorization;
    const options: http.RequestOptions = {
      host: targetHostname,
      port: targetPort,
      method: req.method,
      path: upstreamPath,
      headers,
      agent: upstreamAgent,
    };
    const upstream = client.request(options, (up) => {
      const status = up.statusCode ?? 502;
      const outHeaders = { ...up.headers };
      delete outHeaders.connection;
      delete outHeaders['keep-alive'];
      if (typeof outHeaders.location === 'string') {
        outHeaders.location = outHeaders.location.replace(`${protocol}://${target.host}`, `${protocol}://${proxyHost}`);
      }
      const bodyFault = fault && ['reset-mid-body', 'truncate', 'corrupt'].includes(fault.kind) && !hasBody(req);
      const applies = bodyFault && (status === 200 || status === 206) && req.method !== 'HEAD';
      if (bodyFault && !applies && active) active.left++;
      if (applies) record.fault = fault!.kind;
      res.writeHead(status, outHeaders);
      record.status = status;
      const location = typeof outHeaders.location === 'string' ? UPLOAD_ID.exec(outHeaders.location)?.[1] : undefined;
      if (location && !record.uploadId) record.uploadId = location;
      let sent = 0;
      let cut = false;
      up.on('data', (chunk: Buffer) => {
        if (cut) return;
        if (applies && fault!.kind === 'corrupt' && fault!.atByte >= sent && fault!.atByte < sent + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[fault!.atByte - sent] = 255 - chunk[fault!.atByte - sent];
        }
        if (applies && (fault!.kind === 'reset-mid-body' || fault!.kind === 'truncate') && sent + chunk.length >= fault!.afterBytes) {
          cut = true;
          const part = chunk.subarray(0, fault!.afterBytes - sent);
          sent += part.length;
          record.responseBytes = sent;
          up.destroy();
          const socket = res.socket;
          const finish = () => {
            if (!socket) return;
            if (fault!.kind === 'truncate') socket.end();
            else reset(socket);
          };
          if (part.length > 0) {
            res.write(part, finish);
          } else {
            res.flushHeaders();
            setImmediate(finish);
          }
          return;
        }
        sent += chunk.length;
        record.responseBytes = sent;
        const drained = res.write(chunk);
        if (fault?.kind === 'throttle') record.fault = 'throttle';
        holdBack(up, drained ? undefined : res, fault?.kind === 'throttle' ? (chunk.length * 1000) / fault.bytesPerSecond : 0);
      });
      up.on('end', () => res.end());
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) {
        record.status = 502;
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'proxy: upstream failed' }] }));
      } else {
        res.destroy();
      }
    });
    const requestReset = fault?.kind === 'reset-mid-body' && hasBody(req) ? fault : undefined;
    if (requestReset) record.fault = 'reset-mid-body';
    req.on('data', (chunk: Buffer) => {
      if (requestReset && record.requestBytes + chunk.length >= requestReset.afterBytes) {
        const part = chunk.subarray(0, requestReset.afterBytes - record.requestBytes);
        record.requestBytes += part.length;
        upstream.write(part);
        upstream.destroy();
        reset(req.socket);
        return;
      }
      record.requestBytes += chunk.length;
      const drained = upstream.write(chunk);
      if (fault?.kind === 'throttle') record.fault = 'throttle';
      holdBack(req, drained ? undefined : upstream, fault?.kind === 'throttle' ? (chunk.length * 1000) / fault.bytesPerSecond : 0);
    });
    req.on('end', () => upstream.end());
  };

  /** Starts the record of a request (never the Authorization value, only its scheme). */
  const recordRequest = (req: http.IncomingMessage, listener: ProxyRequestRecord['listener']): ProxyRequestRecord => {
    const record: ProxyRequestRecord = {
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      authorization: scheme(req.headers.authorization),
      listener,
      requestBytes: 0,
      responseBytes: 0,
    };
    requests.push(record);
    return record;
  };

  const createServer = (handler: http.RequestListener): http.Server => (tls
    ? https.createServer({ cert: bedTls().cert, key: bedTls().key }, handler)
    : http.createServer(handler));
  const server = createServer((req, res) => {
    const record = recordRequest(req, 'proxy');
    record.uploadId = UPLOAD_ID.exec(req.url ?? '')?.[1];
    const presented = req.headers.authorization;
    const stillExpired = presented !== undefined && /^bearer /i.test(presented) && expiredTokens.has(presented);
    const active = stillExpired ? { fault: { match: {}, kind: 'expire-token' } as Fault, left: 0 } : take(req);
    const fault = active?.fault;
    const answerAfterBody = (status: number, headers: http.OutgoingHttpHeaders, body: unknown) => {
      record.fault = fault?.kind;
      req.on('data', (c: Buffer) => { record.requestBytes += c.length; });
      req.on('end', () => {
        const text = body === undefined ? '' : JSON.stringify(body);
        record.status = status;
        res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      });
    };
    if (fault?.kind === 'status') {
      const headers: http.OutgoingHttpHeaders = {};
      if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
      const code = fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
      return answerAfterBody(fault.status, headers, { errors: [{ code, message: `injected ${fault.status}` }] });
    }
    if (fault?.kind === 'expire-token') {
      if (presented !== undefined && /^bearer /i.test(presented)) expiredTokens.add(presented);
      const repo = repositoryOf(req.url ?? '');
      let header = challenge;
      if (/^bearer/i.test(challenge)) {
        const actions = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'pull,push';
        header = `${challenge}${repo ? `,scope="repository:${repo}:${actions}"` : ''},error="invalid_token"`;
      }
      return answerAfterBody(401, { 'WWW-Authenticate': header }, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    }
    if (fault?.kind === 'redirect-blobs') {
      const id = crypto.randomBytes(16).toString('hex');
      signedUrls.set(id, { path: req.url ?? '', authorization: req.headers.authorization });
      const digest = BLOB_GET.exec(req.url ?? '')![2];
      const location = `${protocol}://${redirectHost}/blobs/${digest}?X-Amz-Expires=900&X-Amz-Signature=${id}`;
      return answerAfterBody(307, { Location: location }, undefined);
    }
    const tagPut = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(req.url ?? '');
    if (fault?.kind === 'immutable-tags' && req.method === 'PUT' && tagPut && !tagPut[2].startsWith('sha256:')) {
      req.pause();
      const headers: http.OutgoingHttpHeaders = { host: target.host, accept: MANIFEST_TYPES };
      if (presented !== undefined) headers.authorization = presented;
      const head = client.request({ host: targetHostname, port: targetPort, method: 'HEAD', path: req.url, headers, agent: upstreamAgent }, (r) => {
        r.resume();
        if (r.statusCode === 200) {
          const message = `The image tag '${tagPut[2]}' already exists in the '${tagPut[1]}' repository and cannot be overwritten because the repository is immutable.`;
          answerAfterBody(400, {}, { errors: [{ code: 'TAG_INVALID', message }] });
        } else {
          forward(req, res, record, req.url ?? '', active, presented);
        }
        req.resume();
      });
      head.on('error', () => {
        forward(req, res, record, req.url ?? '', active, presented);
        req.resume();
      });
      head.end();
      return;
    }
    if (fault?.kind === 'delay') {
      record.fault = 'delay';
      req.pause();
      setTimeout(() => {
        forward(req, res, record, req.url ?? '', active, req.headers.authorization);
        req.resume();
      }, fault.ms);
      return;
    }
    return forward(req, res, record, req.url ?? '', active, req.headers.authorization);
  });

  // The redirect host: serves a redirected blob by its signed URL, refuses any Authorization header.
  const serveRedirect = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const record = recordRequest(req, 'redirect');
    const url = new URL(req.url ?? '/', 'http://redirect.invalid');
    const signed = signedUrls.get(url.searchParams.get('X-Amz-Signature') ?? '');
    const refuse = (status: number, code: string, message: string) => {
      req.resume();
      record.status = status;
      const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
      res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.headers.authorization !== undefined) {
      return refuse(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
    }
    if (!signed || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return refuse(403, 'AccessDenied', 'Request has expired or the signature does not match');
    }
    return forward(req, res, record, signed.path, undefined, signed.authorization);
  };
  const redirect = createServer(serveRedirect);
  // 'localhost' may resolve to ::1 first on some machines: listen there too when IPv6 is up.
  const redirect6 = createServer(serveRedirect);

  for (const s of [server, redirect, redirect6]) {
    s.keepAliveTimeout = 10_000;
    s.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  }
  const port = await listen(server, 0, '127.0.0.1');
  const redirectPort = await listen(redirect, 0, '127.0.0.1');
  await listen(redirect6, redirectPort, '::1').catch(() => undefined);
  proxyHost = `127.0.0.1:${port}`;
  redirectHost = `localhost:${redirectPort}`;
  if (tls) {
    registerTlsHost(proxyHost);
    registerTlsHost(redirectHost);
  }

  return {
    host: proxyHost,
    url: `${protocol}://${proxyHost}`,
    tls,
    auth: target.auth,
    username: target.username,
    password: target.password,
    redirectHost,
    requests,
    setFaults: (f: Fault[]) => {
      faults = f.map((fault) => ({ fault, left: fault.times ?? Number.POSITIVE_INFINITY }));
    },
    clearRequests: () => { requests.length = 0; },
    requestsPerBlob: () => {
      const digestOfUpload = new Map<string, string>();
      const digestOf = (r: ProxyRequestRecord): string | undefined => {
        const m = /\/blobs\/(sha256:[a-f0-9]{64})/.exec(r.path) ?? /[?&](?:digest|mount)=(sha256(?::|%3A|%3a)[a-f0-9]{64})/.exec(r.path);
        return m ? decodeURIComponent(m[1]) : undefined;
      };
      for (const r of requests) {
        const digest = digestOf(r);
        if (digest && r.uploadId) digestOfUpload.set(r.uploadId, digest);
      }
      const out = new Map<string, ProxyRequestRecord[]>();
      for (const r of requests) {
        const digest = digestOf(r) ?? (r.uploadId ? digestOfUpload.get(r.uploadId) : undefined);
        if (!digest) continue;
        out.set(digest, [...(out.get(digest) ?? []), r]);
      }
      return out;
    },
    credentials: () => target.credentials?.() ?? (async () => (target.username !== undefined && target.password !== undefined
      ? { username: target.username, password: target.password } : undefined)),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      upstreamAgent.destroy();
      if (tls) {
        unregisterTlsHost(proxyHost);
        unregisterTlsHost(redirectHost);
      }
      await Promise.all([server, redirect, redirect6].map((s) => new Promise<void>((resolve) => {
        if (!s.listening) return resolve();
        s.close(() => resolve());
      })));
    },
  };
}

/** Pauses `source` until `sink` drains (when it must) and `delayMs` have passed. */
function holdBack(source: { pause(): unknown; resume(): unknown }, sink: { once(event: 'drain', f: () => void): unknown } | undefined,
  delayMs: number): void {
  if (!sink && delayMs <= 0) return;
  source.pause();
  let waiting = (sink ? 1 : 0) + (delayMs > 0 ? 1 : 0);
  const done = () => {
    if (--waiting === 0) source.resume();
  };
  sink?.once('drain', done);
  if (delayMs > 0) setTimeout(done, delayMs);
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 || req.headers['transfer-encoding'] !== undefined;
}

function scheme(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return authorization.split(' ')[0];
}

function repositoryOf(pathAndQuery: string): string | undefined {
  return /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(pathAndQuery)?.[1];
}

function splitHost(host: string): [string, string] {
  const i = host.lastIndexOf(':');
  return [host.slice(0, i), host.slice(i + 1)];
}

/** A connection reset (TCP RST); over TLS, where the socket is not the TCP handle, an abrupt close. */
function reset(socket: net.Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

async function fetchChallenge(hostname: string, port: number, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = (ca ? https : http).get({ host: hostname, port, path: '/v2/', agent: false, ca }, (res) => {
      res.resume();
      resolve(String(res.headers['www-authenticate'] ?? ''));
    });
    req.on('error', reject);
  });
}

function listen(server: http.Server, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.unref();
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
