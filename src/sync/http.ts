import * as http from 'http';
import * as https from 'https';
import { Readable, pipeline } from 'stream';
import { stoppedFrom } from './errors';

/** One HTTP exchange. Bodies are either a replayable Buffer or a one-shot stream. */
export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | Readable;
  /** Follow 301/302/303/307/308, dropping Authorization when the scheme or host:port changes. Default: GET and HEAD only. */
  readonly followRedirects?: boolean;
  readonly signal?: AbortSignal;
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
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Keep-alive connection pools for one copy. Connection reuse is what makes many small blobs
 * fast: a new TCP (and TLS) connection per request would dominate their transfer time.
 */
export class HttpPool {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly idleTimeoutMs: number;

  constructor(options: HttpPoolOptions = {}) {
    const maxSockets = options.maxSockets ?? 32;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    const agentOptions: http.AgentOptions & { noDelay: boolean } = {
      keepAlive: true,
      keepAliveMsecs: 10_000,
      maxSockets,
      maxFreeSockets: maxSockets,
      scheduling: 'lifo',
      // Small requests and the held-back last chunk of a blob must not wait for delayed ACKs (Nagle).
      noDelay: true,
    };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  /** Sends a request, following redirects for GET/HEAD. Never forwards Authorization to another origin. */
  public async send(request: HttpRequest): Promise<HttpResponse> {
    const follow = request.followRedirects ?? (request.method === 'GET' || request.method === 'HEAD');
    const origin = request.url;
    let url = request.url;
    let method = request.method;
    let headers: http.OutgoingHttpHeaders = { ...request.headers };
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, url, headers, request.body, request.signal);
      const location = res.headers.location;
      if (!follow || !REDIRECT_STATUSES.has(res.status) || !location || hop >= MAX_REDIRECTS) {
        return res;
      }
      discard(res);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        return res;
      }
      if (!sameOrigin(next, origin)) {
        // Pre-signed URLs (ECR answers blob GETs with S3 URLs) carry their own authorization:
        // credentials for the registry must never reach another host.
        headers = withoutHeader(headers, 'authorization');
      }
      if (res.status === 303) {
        method = 'GET';
      }
      url = next;
    }
  }

  /** Closes idle connections and refuses new ones. */
  public close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private once(
    method: string, url: URL, headers: http.OutgoingHttpHeaders, body: Buffer | Readable | undefined, signal?: AbortSignal,
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
        agent: secure ? this.httpsAgent : this.httpAgent,
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

/** Reads a whole (small) body, failing beyond `limit` bytes. */
export async function readBody(res: HttpResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > limit) {
      res.body.destroy();
      throw new Error(`response body exceeds ${limit} bytes`);
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

function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host;
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
