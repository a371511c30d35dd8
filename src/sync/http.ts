import * as dns from 'dns';
import * as http from 'http';
import * as https from 'https';
import { Readable, pipeline } from 'stream';
import * as tls from 'tls';
import { hostWithoutPort, isLoopbackHost } from '../image-reference';
import { CopyError, stoppedFrom } from './errors';
import { isLocalAddress } from '../private/local-address';

export { isLocalAddress };

/** Resolves a host name, as `dns.lookup` does (and as `net.connect` calls it). */
export type LookupFunction = typeof dns.lookup;

/** The registry a request is for: where its credentials may go, and where it lives. */
export interface RequestRegistry {
  /** The registry's own origin (scheme, host and port) as configured: plain HTTP there was the caller's choice. */
  readonly origin: URL;
  /** Whether the registry itself is on loopback: then other origins on loopback are fine too. */
  readonly loopback: boolean;
}

/** One HTTP exchange. Bodies are either a replayable Buffer or a one-shot stream. */
export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | Readable;
  /** Follow 301/302/303/307/308, dropping Authorization when the scheme or host:port changes. Default: GET and HEAD only. */
  readonly followRedirects?: boolean;
  readonly signal?: AbortSignal;
  /**
   * The registry the request is for. Every URL of another origin (a redirect, a token realm, an
   * upload location) must then be HTTPS unless its host is configured for plain HTTP, and, for a
   * registry that is not on loopback, must not reach a loopback or link-local address.
   * @default - the request URL's origin, on loopback when its host is
   */
  readonly registry?: RequestRegistry;
}
/** A response whose body has not been read yet: read it, pipe it, or {@link discard} it. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The final URL, after redirects. */
  readonly url: URL;
  readonly body: http.IncomingMessage;
}

export interface HttpPoolOptions {
  /** Sockets per host; should cover the number of parallel transfers plus their side requests. */
  readonly maxSockets?: number;
  /** A socket that sends or receives nothing for this long fails with ETIMEDOUT. */
  readonly idleTimeoutMs?: number;
  /** Hosts (`host[:port]`) that may be spoken to over plain HTTP. @default - loopback hosts only */
  readonly plainHttp?: (host: string) => boolean;
  /** How host names resolve. @default dns.lookup */
  readonly lookup?: LookupFunction;
  /** CA certificates (PEM) to trust besides Node's own. @default - Node's own only */
  readonly ca?: readonly string[];
  /** Hosts (`host[:port]`) whose certificate is not verified. @default - none */
  readonly insecureTls?: (host: string) => boolean;
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Keep-alive connection pools for one copy. Connection reuse is what makes many small blobs
 * fast: a new TCP (and TLS) connection per request would dominate their transfer time.
 *
 * Every URL passes one origin rule before a byte is sent: a registry's own origin is used as
 * configured; any other origin must be HTTPS unless its host is configured for plain HTTP, and
 * when the registry is not on loopback it must not resolve to a loopback or link-local address
 * (checked on the address the socket connects to, not only on the name).
 */
export class HttpPool {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  /** For other origins of registries that are not on loopback: their own sockets, resolved through the address guard. */
  private readonly guardedHttpAgent: http.Agent;
  private readonly guardedHttpsAgent: https.Agent;
  private readonly idleTimeoutMs: number;
  private readonly plainHttp: (host: string) => boolean;
  private readonly lookup: LookupFunction;
  private readonly insecureTls?: (host: string) => boolean;
  /** For the hosts `insecureTls` names only (made when there are any). */
  private readonly unverifiedHttpsAgent?: https.Agent;

  constructor(options: HttpPoolOptions = {}) {
    const maxSockets = options.maxSockets ?? 32;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.plainHttp = options.plainHttp ?? isLoopbackHost;
    this.lookup = options.lookup ?? dns.lookup;
    const agentOptions: http.AgentOptions & { noDelay: boolean } = {
      keepAlive: true,
      keepAliveMsecs: 10_000,
      maxSockets,
      maxFreeSockets: maxSockets,
      scheduling: 'lifo',
      // Small requests and the held-back last chunk of a blob must not wait for delayed ACKs (Nagle).
      noDelay: true,
    };
    const ca = options.ca && options.ca.length > 0 ? [...tls.rootCertificates, ...options.ca] : undefined;
    const lookup = this.lookup;
    const guarded = guardedLookup(lookup);
    this.httpAgent = new http.Agent({ ...agentOptions, lookup } as http.AgentOptions);
    this.httpsAgent = new https.Agent({ ...agentOptions, lookup, ca } as https.AgentOptions);
    this.guardedHttpAgent = new http.Agent({ ...agentOptions, lookup: guarded } as http.AgentOptions);
    this.guardedHttpsAgent = new https.Agent({ ...agentOptions, lookup: guarded, ca } as https.AgentOptions);
    this.insecureTls = options.insecureTls;
    if (this.insecureTls) {
      this.unverifiedHttpsAgent = new https.Agent({ ...agentOptions, lookup, rejectUnauthorized: false } as https.AgentOptions);
    }
  }

  /**
   * Sends a request, following redirects for GET/HEAD. Never forwards Authorization to another
   * origin; refuses a URL the origin rule does not allow (CopyError REFUSED).
   */
  public async send(request: HttpRequest): Promise<HttpResponse> {
    const follow = request.followRedirects ?? (request.method === 'GET' || request.method === 'HEAD');
    const first = request.url;
    const registry = request.registry ?? { origin: first, loopback: isLoopbackHost(first.host) };
    let url = request.url;
    let method = request.method;
    let headers: http.OutgoingHttpHeaders = { ...request.headers };
    for (let hop = 0; ; hop++) {
      const guarded = this.admit(url, registry, hop > 0 ? first : undefined);
      const res = await this.once(method, url, headers, request.body, request.signal, guarded);
      const location = res.headers.location;
      if (!follow || !REDIRECT_STATUSES.has(res.status) || !location || hop >= MAX_REDIRECTS) {
        return res;
      }
      discard(res);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        return res;
      }
      // User information in a Location would become an Authorization header of the registry's choosing.
      next.username = '';
      next.password = '';
      if (!sameOrigin(next, first)) {
        // Pre-signed URLs (ECR answers blob GETs with S3 URLs) carry their own authorization:
        // credentials for the registry must never reach another origin.
        headers = withoutHeader(headers, 'authorization');
      }
      if (res.status === 303) {
        method = 'GET';
      }
      url = next;
    }
  }

  /**
   * The origin rule for one URL: whether its connection goes through the address guard.
   *
   * @param from the URL that redirected here, if any (for the message)
   * @throws CopyError REFUSED for plain HTTP to a host not configured for it, or a local address
   */
  public admit(url: URL, registry: RequestRegistry, from?: URL): boolean {
    if (sameOrigin(url, registry.origin)) {
      return false;
    }
    const how = from ? `a redirect from ${from.origin} to ${url.origin}` : `${url.origin}`;
    if (url.protocol === 'http:' && !this.plainHttp(url.host)) {
      throw new CopyError('REFUSED',
        `${how} is plain HTTP, which only hosts configured for plain HTTP may use (the registry is ${registry.origin.origin}); refused`);
    }
    if (registry.loopback) {
      return false;
    }
    if (isLocalName(url.hostname)) {
      throw new CopyError('REFUSED',
        `${how} points at a loopback or link-local address, which a registry that is not on loopback (${registry.origin.origin}) may not send the copy to; refused`);
    }
    return true;
  }

  /** Closes idle connections and refuses new ones. */
  public close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.guardedHttpAgent.destroy();
    this.guardedHttpsAgent.destroy();
    this.unverifiedHttpsAgent?.destroy();
  }

  private agentFor(url: URL, secure: boolean, guarded: boolean): http.Agent {
    if (!secure) {
      return guarded ? this.guardedHttpAgent : this.httpAgent;
    }
    if (!guarded && this.unverifiedHttpsAgent && this.insecureTls!(url.host)) {
      return this.unverifiedHttpsAgent;
    }
    return guarded ? this.guardedHttpsAgent : this.httpsAgent;
  }

  private once(
    method: string, url: URL, headers: http.OutgoingHttpHeaders, body: Buffer | Readable | undefined, signal: AbortSignal | undefined,
    guarded: boolean,
  ): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      if (signal?.aborted) {
        reject(stoppedFrom(signal));
        return;
      }
      const secure = url.protocol === 'https:';
      const outgoing: http.OutgoingHttpHeaders = { ...headers };
      if (body instanceof Buffer) {
        outgoing['content-length'] = body.length;
      } else if (!body && method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') {
        outgoing['content-length'] = 0;
      }
      let settled = false;
      const fail = (err: Error) => {
        if (!settled) {
          settled = true;
          // The body stream's own error (say, a digest mismatch) explains more than the socket's.
          const bodyError = body instanceof Readable ? body.errored : null;
          reject(bodyError ?? err);
        }
      };
      const req = (secure ? https : http).request(url, {
        method,
        headers: outgoing,
        agent: this.agentFor(url, secure, guarded),
        signal,
      }, res => {
        if (settled) {
          res.resume();
          return;
        }
        settled = true;
        res.setTimeout(this.idleTimeoutMs, () => res.destroy(timeoutError(this.idleTimeoutMs)));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
      });
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(timeoutError(this.idleTimeoutMs)));
      req.on('error', fail);
      if (body instanceof Readable) {
        pipeline(body, req, err => {
          if (err) {
            req.destroy(err);
            fail(err);
          }
        });
      } else {
        req.end(body);
      }
    });
  }
}

/** The code of {@link readBody}'s error for a body beyond its limit. */
export const BODY_TOO_LARGE = 'ERR_BODY_TOO_LARGE';

/** Reads a whole (small) body, failing beyond `limit` bytes (an Error with code {@link BODY_TOO_LARGE}). */
export async function readBody(res: HttpResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > limit) {
      res.body.destroy();
      throw Object.assign(new Error(`response body exceeds ${limit} bytes`), { code: BODY_TOO_LARGE });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Throws away a response body so the connection returns to the pool. */
export function discard(res: HttpResponse): void {
  res.body.resume();
  res.body.on('error', () => undefined);
}

/** Same scheme, host and port (`URL.host` leaves out the scheme's default port, so `:443` and none are one). */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host;
}

/** A host name or address literal that is local by itself, before any resolution. */
function isLocalName(hostname: string): boolean {
  const host = hostWithoutPort(hostname).toLowerCase();
  return isLocalAddress(host) || host === 'localhost' || host.endsWith('.localhost');
}

/** A lookup that fails when any address a name resolves to is local (a name can resolve to several, mixed). */
function guardedLookup(lookup: LookupFunction): LookupFunction {
  const guarded = (hostname: string, options: dns.LookupOptions | number | ((...args: any[]) => void), callback?: (...args: any[]) => void) => {
    const cb = (typeof options === 'function' ? options : callback)!;
    const opts: dns.LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
    lookup(hostname, { ...opts, all: true }, (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => {
      if (err) {
        cb(err);
        return;
      }
      const local = addresses.find(a => isLocalAddress(a.address));
      if (local) {
        cb(new CopyError('REFUSED', `${hostname} resolves to ${local.address}, a loopback or link-local address that a registry not on loopback may not send the copy to; refused`));
        return;
      }
      if (opts.all) {
        cb(null, addresses);
      } else {
        cb(null, addresses[0]?.address, addresses[0]?.family);
      }
    });
  };
  return guarded as unknown as LookupFunction;
}

function withoutHeader(headers: http.OutgoingHttpHeaders, name: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) {
      out[key] = value;
    }
  }
  return out;
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no data for ${Math.round(ms / 1000)} s`), { code: 'ETIMEDOUT' });
}
