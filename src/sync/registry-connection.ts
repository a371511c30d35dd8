import * as http from 'http';
import { Readable } from 'stream';
import { isLoopbackHost } from '../image-reference';
import { Authenticator, CredentialSource } from './auth';
import { CopyError, CopyErrorCode, describeNetworkError, stoppedFrom } from './errors';
import { HttpPool, HttpResponse, discard, readBody } from './http';
import { REQUEST_ATTEMPTS, Retry, RetryNotice, isRetryable, isRetryableNetworkError, isRetryableStatus, withRetries } from './retry';

/** Where the engine connects for each registry, and how. */
export interface RegistryRoutes {
  /**
   * Where to dial a registry: the `host[:port]` the socket connects to. The registry's own name
   * still names its credentials, its scopes and every message; tests and private endpoints point
   * it elsewhere with this.
   * @default - the registry itself (Docker Hub's API host for `docker.io`)
   */
  readonly dial?: (registry: string) => string | undefined;
  /** Which dialled hosts speak plain HTTP. @default - loopback hosts only */
  readonly plainHttp?: (host: string) => boolean;
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
  private readonly base: URL;
  private readonly pool: HttpPool;
  private readonly signal?: AbortSignal;
  private readonly onRetry?: (message: string) => void;
  private readonly maxAttempts: number;

  constructor(options: RegistryConnectionOptions) {
    this.registry = options.registry;
    this.base = new URL(`${options.plainHttp ? 'http' : 'https'}://${options.host ?? apiHost(options.registry)}`);
    this.pool = options.pool;
    this.signal = options.signal;
    this.onRetry = options.onRetry;
    this.maxAttempts = options.maxAttempts ?? REQUEST_ATTEMPTS;
    this.auth = new Authenticator(options.registry, options.credentials, options.pool, options.signal);
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
    let authRetries = 0;
    return withRetries({ attempts: this.maxAttempts, signal: this.signal, onRetry: this.notify(n => `${n.reason}; retrying`) }, async ({ last }) => {
      for (;;) {
        this.throwIfStopped();
        const authorization = url.host === this.base.host ? await this.auth.authorization(c.scopes) : undefined;
        const headers: http.OutgoingHttpHeaders = { 'user-agent': 'cdk-byoc-artifacts', ...c.headers };
        if (authorization) {
          headers.authorization = authorization;
        }
        let res: HttpResponse;
        try {
          res = await this.pool.send({ method: c.method, url, headers, body: c.body, signal: this.signal });
        } catch (err) {
          this.throwIfStopped();
          if (!(err instanceof CopyError) && replayable && !last && isRetryableNetworkError(err)) {
            return new Retry(`${c.method} ${c.what} on ${this.registry} failed (${describeNetworkError(err)})`);
          }
          throw this.networkError(err, `${c.method} ${c.what}`);
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
        if (isRetryableStatus(res.status) && replayable && !last) {
          discard(res);
          return new Retry(`${c.method} ${c.what} on ${this.registry} answered HTTP ${res.status}`, res.headers['retry-after']);
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
    return new CopyError(code, `${what} on ${where} failed with HTTP ${status}${suffix}${advice}`, {
      registry: this.registry, reference: repository, status, retryable: isRetryableStatus(status),
    });
  }

  /** A failed exchange as a CopyError naming the registry (a CopyError passes unchanged). */
  public networkError(err: unknown, what: string): CopyError {
    if (err instanceof CopyError) {
      return err;
    }
    return new CopyError('NETWORK', `${what} on ${this.registry} failed: ${describeNetworkError(err)}`, {
      registry: this.registry, retryable: isRetryableNetworkError(err), cause: err,
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

