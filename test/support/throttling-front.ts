import * as http from 'http';
import * as net from 'net';
import { RegistryTarget } from './images';

/**
 * A throttling front for a test registry: an HTTP proxy on 127.0.0.1 that stands in for an ECR
 * registry endpoint. It checks each request's ECR-style login (Basic `AWS:<token>`, the token
 * issued by a fake `GetAuthorizationToken`), names the ECR API the request stands for, and
 * enforces that API's rate limit with a token bucket the way ECR does: a request over the limit is
 * answered 429 `TOOMANYREQUESTS` with a `Retry-After`. Accepted requests go to the registry with
 * the registry's own credentials.
 *
 * Every request is counted by API and by the install whose token it carried, so a simulation can
 * say exactly how many requests of each API one sync made.
 */

/** The ECR (and STS) APIs a registry request, or a fake AWS call, stands for. */
export const Apis = {
  ASSUME_ROLE: 'AssumeRole',
  GET_AUTHORIZATION_TOKEN: 'GetAuthorizationToken',
  BATCH_GET_IMAGE: 'BatchGetImage',
  BATCH_CHECK_LAYER_AVAILABILITY: 'BatchCheckLayerAvailability',
  GET_DOWNLOAD_URL_FOR_LAYER: 'GetDownloadUrlForLayer',
  INITIATE_LAYER_UPLOAD: 'InitiateLayerUpload',
  UPLOAD_LAYER_PART: 'UploadLayerPart',
  COMPLETE_LAYER_UPLOAD: 'CompleteLayerUpload',
  PUT_IMAGE: 'PutImage',
} as const;

export type Api = typeof Apis[keyof typeof Apis];

/**
 * The ECR API a distribution request stands for, as ECR meters its registry endpoint: manifest
 * reads are BatchGetImage, blob existence checks BatchCheckLayerAvailability, blob downloads
 * GetDownloadUrlForLayer (ECR answers them with a redirect to S3), and the push side's upload
 * session and manifest writes their own APIs. The `/v2/` ping is no API: undefined.
 */
export function apiOf(method: string, path: string): Api | undefined {
  const p = path.split('?')[0];
  if (/\/manifests\/[^/]+$/.test(p)) {
    return method === 'PUT' ? Apis.PUT_IMAGE : Apis.BATCH_GET_IMAGE;
  }
  if (/\/referrers\/sha256:[a-f0-9]{64}$/.test(p)) {
    // ECR authorizes its referrers API with ecr:BatchGetImage; its rate quota is not documented
    // apart: the model counts it against BatchGetImage's.
    return Apis.BATCH_GET_IMAGE;
  }
  if (/\/blobs\/uploads\/?$/.test(p) && method === 'POST') {
    return Apis.INITIATE_LAYER_UPLOAD;
  }
  if (/\/blobs\/uploads\/[^/]+$/.test(p)) {
    return method === 'PUT' ? Apis.COMPLETE_LAYER_UPLOAD : Apis.UPLOAD_LAYER_PART;
  }
  if (/\/blobs\/sha256:[a-f0-9]{64}$/.test(p)) {
    return method === 'HEAD' ? Apis.BATCH_CHECK_LAYER_AVAILABILITY : Apis.GET_DOWNLOAD_URL_FOR_LAYER;
  }
  return undefined;
}

/** A rate limit: requests per second, and how many may arrive at once (the bucket's size). */
export interface RateLimit {
  readonly perSecond: number;
  /** The bucket's capacity. @default - one second's worth of `perSecond` (at least 1) */
  readonly burst?: number;
}

/** What a limiter answers when asked for a token. */
export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly retryAfterSeconds: number };

/**
 * Token buckets by API (one account and Region's quotas). An API without a limit is admitted
 * always. Counts what it admitted and what it refused, by API and by caller.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; limit: Required<RateLimit> }>();
  private readonly admittedBy = new Map<string, Map<string, number>>();
  private readonly throttledBy = new Map<string, Map<string, number>>();

  constructor(limits: { readonly [api: string]: RateLimit }, private readonly now: () => number = () => performance.now()) {
    for (const [api, limit] of Object.entries(limits)) {
      const burst = limit.burst ?? Math.max(1, limit.perSecond);
      this.buckets.set(api, { tokens: burst, at: this.now(), limit: { perSecond: limit.perSecond, burst } });
    }
  }

  /** Takes one token of `api` for `caller`, or says how many whole seconds until one is there. */
  public take(api: string, caller: string): Admission {
    const bucket = this.buckets.get(api);
    if (bucket) {
      const t = this.now();
      bucket.tokens = Math.min(bucket.limit.burst, bucket.tokens + ((t - bucket.at) / 1000) * bucket.limit.perSecond);
      bucket.at = t;
      if (bucket.tokens < 1) {
        bump(this.throttledBy, api, caller);
        // Retry-After carries whole seconds: never 0, which would invite an immediate retry.
        return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / bucket.limit.perSecond)) };
      }
      bucket.tokens -= 1;
    }
    bump(this.admittedBy, api, caller);
    return { admitted: true };
  }

  /** Admitted requests by API (every caller). */
  public admitted(): { [api: string]: number } {
    return totals(this.admittedBy);
  }

  /** Refused requests by API (every caller). */
  public throttled(): { [api: string]: number } {
    return totals(this.throttledBy);
  }

  /** Refused requests of one caller, every API. */
  public throttledFor(caller: string): number {
    let n = 0;
    for (const byCaller of this.throttledBy.values()) n += byCaller.get(caller) ?? 0;
    return n;
  }

  /** Admitted requests of one caller, by API. */
  public admittedFor(caller: string): { [api: string]: number } {
    const out: { [api: string]: number } = {};
    for (const [api, byCaller] of this.admittedBy) {
      const n = byCaller.get(caller);
      if (n) out[api] = n;
    }
    return out;
  }
}

function bump(table: Map<string, Map<string, number>>, api: string, caller: string): void {
  const byCaller = table.get(api) ?? table.set(api, new Map()).get(api)!;
  byCaller.set(caller, (byCaller.get(caller) ?? 0) + 1);
}

function totals(table: Map<string, Map<string, number>>): { [api: string]: number } {
  const out: { [api: string]: number } = {};
  for (const [api, byCaller] of table) {
    out[api] = [...byCaller.values()].reduce((a, b) => a + b, 0);
  }
  return out;
}

export interface ThrottlingFrontOptions {
  /** The registry behind the front; its own credentials (Basic) are used upstream. */
  readonly target: RegistryTarget;
  readonly limiter: RateLimiter;
  /**
   * The caller a presented Basic password (the ECR token) belongs to; undefined refuses it with
   * 401, as ECR refuses an unknown or expired token.
   */
  readonly caller: (token: string) => string | undefined;
}

export interface ThrottlingFront {
  /** '127.0.0.1:PORT' */
  readonly host: string;
  /** Requests answered 401 because they carried no (known) token: login challenges, no API. */
  challenges(): number;
  /** Requests no ECR API stands for (the `/v2/` ping), admitted without a limit. */
  unmetered(): number;
  stop(): Promise<void>;
}

const THROTTLED_BODY = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'Rate exceeded' }] });
const DENIED_BODY = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });

export async function startThrottlingFront(options: ThrottlingFrontOptions): Promise<ThrottlingFront> {
  const { target, limiter } = options;
  const [targetHost, targetPort] = target.host.split(':');
  const upstreamAuth = target.username !== undefined
    ? `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}`
    : undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<net.Socket>();
  let challenges = 0;
  let unmetered = 0;

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, body: string) => {
    req.resume();
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    const caller = callerOf(req.headers.authorization, options.caller);
    if (caller === undefined) {
      challenges++;
      return answer(req, res, 401, { 'WWW-Authenticate': 'Basic realm="throttling-front"' }, DENIED_BODY);
    }
    const api = apiOf(req.method ?? 'GET', req.url ?? '/');
    if (api === undefined) {
      unmetered++;
    } else {
      const admission = limiter.take(api, caller);
      if (!admission.admitted) {
        return answer(req, res, 429, { 'Retry-After': String(admission.retryAfterSeconds) }, THROTTLED_BODY);
      }
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: target.host };
    delete headers.connection;
    if (upstreamAuth) headers.authorization = upstreamAuth;
    else delete headers.authorization;
    const upstream = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers, agent }, (up) => {
      const out = { ...up.headers };
      delete out.connection;
      delete out['keep-alive'];
      if (typeof out.location === 'string') {
        out.location = out.location.replace(`http://${target.host}`, `http://${front.host}`);
      }
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) answer(req, res, 502, {}, JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'front: upstream failed' }] }));
      else res.destroy();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const front = {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    challenges: () => challenges,
    unmetered: () => unmetered,
    stop: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return front;
}

/** The caller of an ECR-style Basic login (`AWS:<token>`), or undefined. */
function callerOf(authorization: string | undefined, lookup: (token: string) => string | undefined): string | undefined {
  const m = /^Basic\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || decoded.slice(0, colon) !== 'AWS') return undefined;
  return lookup(decoded.slice(colon + 1));
}
