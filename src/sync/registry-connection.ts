import * as http from 'http';
import { Readable } from 'stream';
import { isLoopbackHost } from '../image-reference';
import { Authenticator, CredentialSource } from './auth';
import { CopyError, CopyErrorCode, describeNetworkError, stoppedFrom } from './errors';
import { HttpPool, HttpResponse, LookupFunction, RequestRegistry, discard, readBody, sameOrigin } from './http';
import { Redactor } from './redact';
import {
  CONNECT_ATTEMPTS, REQUEST_ATTEMPTS, Retry, RetryNotice, isConnectError, isRetryable, isRetryableNetworkError, isRetryableStatus,
  isThrottlingError, withRetries,
} from './retry';

/** Where the engine connects for each registry, and how. */
export interface RegistryRoutes {
  /**
   * Where to dial a registry: the `host[:port]` the socket connects to. The registry's own name
   * still names its credentials, its scopes and every message; tests and private endpoints point
   * it elsewhere with this.
   * @default - the registry itself (Docker Hub's API host for `docker.io`)
   */
  readonly dial?: (registry: string) => string | undefined;
  /**
   * Which hosts (`host[:port]`) speak plain HTTP: the dialled registries, and any redirect, token
   * realm or upload location of another origin, which is refused when it is plain HTTP to a host
   * this does not name.
   * @default - loopback hosts only
   */
  readonly plainHttp?: (host: string) => boolean;
  /**
   * How host names resolve, for registries and for the hosts they redirect to. Tests point names
   * at loopback with it.
   * @default - the system resolver (dns.lookup)
   */
  readonly lookup?: LookupFunction;
  /**
   * CA certificates (PEM) trusted besides Node's own, for registries with a private CA (and the
   * test bed's per-run certificate).
   * @default - Node's own CA certificates only
   */
  readonly ca?: string[];
  /**
   * Registry hosts (`host[:port]`, as dialled) whose certificate is not verified: a registry
   * with a self-signed certificate, on the user's explicit word. Hosts they redirect to are
   * still verified.
   * @default - every certificate is verified
   */
  readonly insecureTls?: (host: string) => boolean;
}

/** The host to connect to for a registry, and whether it speaks plain HTTP. */
export function routeOf(registry: string, routes: RegistryRoutes): { host: string; plainHttp: boolean } {
  const dialled = routes.dial?.(registry) ?? registry;
  return { host: apiHost(dialled), plainHttp: (routes.plainHttp ?? isLoopbackHost)(dialled) };
}

export interface RegistryConnectionOptions {
  /** `host[:port]` as written in image references: what credentials, scopes and messages name. */
  readonly registry: string;
  /**
   * Where to connect, `host[:port]`.
   * @default - the registry's API host
   */
  readonly host?: string;
  readonly credentials?: CredentialSource;
  /** Talk plain HTTP instead of HTTPS. */
  readonly plainHttp: boolean;
  readonly pool: HttpPool;
  /** Aborts every request (the engine's deadline and the caller's signal). */
  readonly signal?: AbortSignal;
  /** Told about every retry, with a message free of secrets. */
  readonly onRetry?: (message: string) => void;
  /** Attempts for one request that can be replayed. Default {@link REQUEST_ATTEMPTS}. */
  readonly maxAttempts?: number;
  /**
   * The copy's deadline (epoch ms): until then, a request throttled (HTTP 429) waits for the quota
   * beyond its attempts, and so does a token request; a wait that reaches it stops the copy.
   * @default - a 429 counts against the attempts like a 5xx
   */
  readonly waitForQuotaUntil?: number;
  /** Learns every credential and token the connection handles. @default - a redactor of its own */
  readonly redactor?: Redactor;
}

/** One request to a registry. */
export interface RegistryCall {
  readonly method: string;
  /** A path under the registry (`/v2/...`) or an absolute URL (upload locations). */
  readonly target: string | URL;
  readonly scopes: readonly string[];
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | Readable;
  /** What the request is about, for messages. */
  readonly what: string;
}

/** Responses to replayable requests that failed on their last attempt: their failure is not retried again. */
const spent = new WeakSet<HttpResponse>();

/** Docker Hub's API lives on another host than its references say. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

/**
 * Requests to one registry: authentication (anonymous, Basic, Bearer tokens), retries of
 * transient failures (honouring Retry-After), and clear, secret-free errors.
 */
export class RegistryConnection {
  public readonly registry: string;
  public readonly auth: Authenticator;
  /** Knows every secret this connection handled. */
  public readonly redactor: Redactor;
  private readonly base: URL;
  /** The registry's own origin: the only one credentials, challenges and tokens belong to. */
  private readonly home: RequestRegistry;
  private readonly pool: HttpPool;
  private readonly signal?: AbortSignal;
  private readonly onRetry?: (message: string) => void;
  private readonly maxAttempts: number;
  private readonly waitForQuotaUntil?: number;

  constructor(options: RegistryConnectionOptions) {
    this.registry = options.registry;
    this.base = new URL(`${options.plainHttp ? 'http' : 'https'}://${options.host ?? apiHost(options.registry)}`);
    this.pool = options.pool;
    this.signal = options.signal;
    this.onRetry = options.onRetry;
    this.maxAttempts = options.maxAttempts ?? REQUEST_ATTEMPTS;
    this.waitForQuotaUntil = options.waitForQuotaUntil;
    this.redactor = options.redactor ?? new Redactor();
    this.home = { origin: this.base, loopback: isLoopbackHost(this.base.host) };
    this.auth = new Authenticator({
      registry: options.registry,
      source: options.credentials,
      pool: options.pool,
      signal: options.signal,
      home: this.home,
      redactor: this.redactor,
      waitForQuotaUntil: options.waitForQuotaUntil,
    });
  }

  /**
   * Checks a URL the registry handed out (an upload location) against the origin rule before it
   * is used, so that the refusal names what it was.
   *
   * @throws CopyError REFUSED
   */
  public admit(url: URL, what: string): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CopyError('REFUSED', `${this.registry} gave ${what} with the scheme ${JSON.stringify(url.protocol)}; only HTTPS (or plain HTTP to hosts configured for it) is used`, {
        registry: this.registry,
      });
    }
    try {
      this.pool.admit(url, this.home);
    } catch (err) {
      throw err instanceof CopyError ? new CopyError(err.code, `${this.registry} gave ${what}: ${err.message}`, { registry: this.registry }) : err;
    }
  }

  /**
   * Runs `fn` again (up to the connection's attempts) when it fails with a retryable error that
   * happened after the response started, such as a reset or a digest mismatch in the body.
   */
  public async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetries({
      attempts: this.maxAttempts,
      signal: this.signal,
      retryable: isRetryable,
      waitForQuotaUntil: this.waitForQuotaUntil,
      throttled: isThrottlingError,
      onRetry: this.notify(n => `${what} on ${this.registry}: ${n.reason}; retrying`),
    }, fn);
  }

  /**
   * Sends a request with authentication and retries. Replayable requests (no body or a Buffer)
   * are retried on 408/429/5xx and connection failures; a 401 re-authenticates, at most twice.
   * Streamed bodies are sent once: the caller retries the whole transfer.
   */
  public async call(c: RegistryCall): Promise<HttpResponse> {
    const url = typeof c.target === 'string' ? new URL(c.target, this.base) : c.target;
    const replayable = !(c.body instanceof Readable);
    // Credentials and tokens go to the registry's own origin (scheme, host and port), never elsewhere.
    const own = sameOrigin(url, this.base);
    let authRetries = 0;
    let connectFailures = 0;
    const retries = {
      attempts: this.maxAttempts, signal: this.signal, waitForQuotaUntil: this.waitForQuotaUntil, onRetry: this.notify(retryMessage),
    };
    return withRetries(retries, async ({ last, waitsForQuota }) => {
      for (;;) {
        this.throwIfStopped();
        const authorization = own ? await this.auth.authorization(c.scopes) : undefined;
        const headers: http.OutgoingHttpHeaders = { 'user-agent': 'cdk-byoc-artifacts', ...c.headers };
        if (authorization) {
          headers.authorization = authorization;
        }
        let res: HttpResponse;
        try {
          res = await this.pool.send({ method: c.method, url, headers, body: c.body, signal: this.signal, registry: this.home });
        } catch (err) {
          this.throwIfStopped();
          // An unreachable host fails fast: one retry at most, not the whole backoff.
          const unreachable = isConnectError(err) && ++connectFailures >= CONNECT_ATTEMPTS;
          if (!(err instanceof CopyError) && replayable && !last && !unreachable && isRetryableNetworkError(err)) {
            return new Retry(`${c.method} ${c.what} on ${this.registry} failed (${describeNetworkError(err)})`);
          }
          throw this.networkError(err, `${c.method} ${c.what}`, replayable);
        }
        if (res.status === 401 && !sameOrigin(res.url, this.base)) {
          // A redirect target (or an upload host) is not the registry: its challenge is not
          // followed and it never gets the registry's credentials.
          discard(res);
          throw new CopyError('UNAUTHORIZED',
            `${c.method} ${c.what} on ${this.registry} was answered HTTP 401 by ${res.url.origin}, which is not the registry; `
            + 'credentials are only ever sent to the registry itself, so this fails', { registry: this.registry, status: 401 });
        }
        if (res.status === 401 && authRetries < 2) {
          discard(res);
          const again = await this.auth.challenge(res.headers['www-authenticate'], c.scopes, authorization);
          if (again && replayable) {
            // A fresh token or password: the same attempt, sent again.
            authRetries++;
            continue;
          }
          if (again) {
            throw new CopyError('UNAUTHORIZED', `${this.registry} asked to re-authenticate during ${c.method} ${c.what}`, {
              registry: this.registry, status: 401, retryable: true,
            });
          }
          return res;
        }
        if (isRetryableStatus(res.status) && replayable) {
          // A 429 is the registry's rate quota: within the copy's deadline it waits for the quota.
          const throttled = res.status === 429;
          if (!last || (throttled && waitsForQuota)) {
            discard(res);
            return new Retry(`${c.method} ${c.what} on ${this.registry} answered HTTP ${res.status}`, res.headers['retry-after'], throttled);
          }
          spent.add(res);
        }
        return res;
      }
    });
  }

  /** Turns an unexpected response into a CopyError carrying the registry's own error code and message. */
  public async failure(res: HttpResponse, what: string, repository: string): Promise<CopyError> {
    let detail = '';
    if (res.body.readable && !res.body.readableEnded) {
      try {
        const text = (await readBody(res, 64 * 1024)).toString('utf8');
        detail = describeRegistryErrors(text);
      } catch {
        detail = '';
      }
    }
    const status = res.status;
    const where = `${this.registry}/${repository}`;
    const suffix = detail ? `: ${detail}` : '';
    let code: CopyErrorCode = 'REGISTRY';
    let advice = '';
    if (status === 401) {
      code = 'UNAUTHORIZED';
      advice = '; check the credentials for this registry';
    } else if (status === 403) {
      code = 'DENIED';
      advice = '; the credentials lack permission for this repository';
    } else if (status === 404) {
      code = 'NOT_FOUND';
    } else if (status === 400 && /DIGEST_INVALID|SIZE_INVALID|BLOB_UNKNOWN|MANIFEST_BLOB_UNKNOWN/.test(detail)) {
      code = 'INVALID';
    }
    // A redirect target's answer says who gave it (its origin only: a signed URL's query is a secret).
    const by = sameOrigin(res.url, this.base) ? '' : ` (answered by ${res.url.origin})`;
    return new CopyError(code, `${what} on ${where} failed with HTTP ${status}${by}${suffix}${advice}`, {
      registry: this.registry, reference: repository, status, retryable: isRetryableStatus(status), retried: spent.has(res),
    });
  }

  /**
   * A failed exchange as a CopyError naming the registry (a CopyError passes unchanged).
   *
   * @param retried the request was replayable, so its attempts are spent by now
   */
  public networkError(err: unknown, what: string, retried = false): CopyError {
    if (err instanceof CopyError) {
      return err;
    }
    const retryable = isRetryableNetworkError(err);
    // An unreachable host had its one retry here already: no outer loop tries it again.
    return new CopyError('NETWORK', `${what} on ${this.registry} failed: ${describeNetworkError(err)}`, {
      registry: this.registry, retryable, retried: retryable && (retried || isConnectError(err)), cause: err,
    });
  }

  /** Reports a retry to the client's listener in the caller's words. */
  private notify(message: (notice: RetryNotice) => string): ((notice: RetryNotice) => void) | undefined {
    const onRetry = this.onRetry;
    return onRetry && (notice => onRetry(message(notice)));
  }

  private throwIfStopped(): void {
    if (this.signal?.aborted) {
      throw stoppedFrom(this.signal);
    }
  }
}

/** A retry notice of a request, saying when it waits for quota. */
function retryMessage(n: RetryNotice): string {
  return `${n.reason}; ${n.waitingForQuota ? 'waiting for the quota' : 'retrying'}`;
}

/** `{"errors":[{"code":"...","message":"..."}]}` → `CODE: message; ...` (or the text, shortened). */
export function describeRegistryErrors(text: string): string {
  try {
    const json = JSON.parse(text);
    if (Array.isArray(json?.errors)) {
      return json.errors
        .map((e: any) => [e?.code, e?.message].filter(x => typeof x === 'string' && x).join(': '))
        .filter((s: string) => s)
        .join('; ')
        .slice(0, 500);
    }
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

