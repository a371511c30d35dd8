import * as crypto from 'crypto';
import * as http from 'http';
import { Readable } from 'stream';
import { Authenticator, CredentialSource } from './auth';
import { CopyError, CopyErrorCode, StoppedError } from './errors';
import { HttpPool, HttpResponse, discard, isRetryableNetworkError, isRetryableStatus, readBody, retryDelayMs, sleep, stoppedFrom } from './http';
import { MANIFEST_ACCEPT } from './media-types';

export interface RegistryClientOptions {
  /** `host[:port]` as written in image references. */
  readonly registry: string;
  readonly credentials?: CredentialSource;
  /** Talk plain HTTP instead of HTTPS. */
  readonly plainHttp: boolean;
  readonly pool: HttpPool;
  /** Aborts every request (the engine's deadline and the caller's signal). */
  readonly signal?: AbortSignal;
  /** Told about every retry, with a message free of secrets. */
  readonly onRetry?: (message: string) => void;
  /** Attempts for one request that can be replayed. Default 5. */
  readonly maxAttempts?: number;
}

export interface ManifestInfo {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

export interface FetchedManifest extends ManifestInfo {
  readonly bytes: Buffer;
}

interface Call {
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
 * An OCI distribution API client for one registry: manifests and blobs with authentication,
 * retries of transient failures (honouring Retry-After), and clear, secret-free errors.
 */
export class RegistryClient {
  public readonly registry: string;
  public readonly auth: Authenticator;
  private readonly base: URL;
  private readonly pool: HttpPool;
  private readonly signal?: AbortSignal;
  private readonly onRetry?: (message: string) => void;
  private readonly maxAttempts: number;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.base = new URL(`${options.plainHttp ? 'http' : 'https'}://${apiHost(options.registry)}`);
    this.pool = options.pool;
    this.signal = options.signal;
    this.onRetry = options.onRetry;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.auth = new Authenticator(options.registry, options.credentials, options.pool, options.signal);
  }

  /** HEAD a manifest; undefined when the registry does not have it. */
  public async headManifest(repository: string, reference: string, scopes = pullScope(repository)): Promise<ManifestInfo | undefined> {
    const res = await this.call({
      method: 'HEAD',
      target: `/v2/${repository}/manifests/${reference}`,
      scopes,
      headers: { accept: MANIFEST_ACCEPT },
      what: `manifest ${repository}:${reference}`,
    });
    discard(res);
    if (res.status === 404) {
      return undefined;
    }
    if (res.status !== 200) {
      throw await this.failure(res, `HEAD manifest ${repository}@${reference}`, repository);
    }
    const digest = headerValue(res.headers['docker-content-digest']);
    if (!digest) {
      // Some registries omit the digest on HEAD: read the bytes instead.
      const fetched = await this.getManifest(repository, reference, scopes);
      return fetched && { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size };
    }
    return {
      digest,
      mediaType: (headerValue(res.headers['content-type']) ?? '').split(';')[0].trim(),
      size: Number(res.headers['content-length'] ?? 0),
    };
  }

  /** GET a manifest's exact bytes; undefined when absent. The digest is computed from the bytes. */
  public async getManifest(repository: string, reference: string, scopes = pullScope(repository)): Promise<FetchedManifest | undefined> {
    // A body cut short or corrupted on the way is worth fetching again.
    return this.retrying(`manifest ${repository}@${reference}`, () => this.getManifestOnce(repository, reference, scopes));
  }

  /**
   * Runs `fn` again (up to the client's attempts) when it fails with a retryable error that
   * happened after the response started, such as a reset or a digest mismatch in the body.
   */
  public async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.throwIfStopped();
        const retryable = err instanceof CopyError ? err.retryable : isRetryableNetworkError(err);
        if (!retryable || attempt + 1 >= this.maxAttempts) {
          throw err;
        }
        await this.pause(attempt, undefined, `${what} on ${this.registry}: ${(err as Error).message}; retrying`);
      }
    }
  }

  private async getManifestOnce(repository: string, reference: string, scopes: readonly string[]): Promise<FetchedManifest | undefined> {
    const res = await this.call({
      method: 'GET',
      target: `/v2/${repository}/manifests/${reference}`,
      scopes,
      headers: { accept: MANIFEST_ACCEPT },
      what: `manifest ${repository}:${reference}`,
    });
    if (res.status === 404) {
      discard(res);
      return undefined;
    }
    if (res.status !== 200) {
      throw await this.failure(res, `GET manifest ${repository}@${reference}`, repository);
    }
    let bytes: Buffer;
    try {
      bytes = await readBody(res, 4 * 1024 * 1024);
    } catch (err) {
      throw this.networkError(err, `reading manifest ${repository}@${reference}`);
    }
    const digest = sha256(bytes);
    const claimed = headerValue(res.headers['docker-content-digest']);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new CopyError('DIGEST_MISMATCH', `${this.registry}/${repository}@${reference} served a manifest whose digest is ${digest}`, {
        registry: this.registry, reference: `${repository}@${reference}`, retryable: true,
      });
    }
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new CopyError('DIGEST_MISMATCH', `${this.registry}/${repository}:${reference} claims digest ${claimed} but its bytes hash to ${digest}`, {
        registry: this.registry, reference: `${repository}:${reference}`, retryable: true,
      });
    }
    return { bytes, digest, mediaType: (headerValue(res.headers['content-type']) ?? '').split(';')[0].trim(), size: bytes.length };
  }

  /** PUT manifest bytes under a tag or digest; returns the digest the registry reports. */
  public async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, scopes = pushScope(repository)): Promise<string> {
    const res = await this.call({
      method: 'PUT',
      target: `/v2/${repository}/manifests/${reference}`,
      scopes,
      headers: { 'content-type': mediaType },
      body: bytes,
      what: `manifest ${repository}:${reference}`,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw await this.failure(res, `PUT manifest ${repository}:${reference}`, repository);
    }
    discard(res);
    const expected = sha256(bytes);
    const reported = headerValue(res.headers['docker-content-digest']);
    if (reported && reported !== expected) {
      throw new CopyError('DIGEST_MISMATCH', `${this.registry}/${repository}:${reference} stored the manifest as ${reported}, expected ${expected}`, {
        registry: this.registry, reference: `${repository}:${reference}`,
      });
    }
    return expected;
  }

  /** DELETE a manifest by digest; false when it was already gone. */
  public async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const res = await this.call({
      method: 'DELETE',
      target: `/v2/${repository}/manifests/${digest}`,
      scopes: [`repository:${repository}:delete`],
      what: `manifest ${repository}@${digest}`,
    });
    if (res.status === 404) {
      discard(res);
      return false;
    }
    if (res.status === 405) {
      discard(res);
      throw new CopyError('UNSUPPORTED', `${this.registry} does not allow deleting manifests (HTTP 405)`, { registry: this.registry, status: 405 });
    }
    if (res.status !== 202 && res.status !== 200) {
      throw await this.failure(res, `DELETE manifest ${repository}@${digest}`, repository);
    }
    discard(res);
    return true;
  }

  /** HEAD a blob: its size when present, undefined when absent. */
  public async headBlob(repository: string, digest: string, scopes = pullScope(repository)): Promise<number | undefined> {
    const res = await this.call({ method: 'HEAD', target: `/v2/${repository}/blobs/${digest}`, scopes, what: `blob ${digest}` });
    discard(res);
    if (res.status === 404) {
      return undefined;
    }
    if (res.status !== 200) {
      throw await this.failure(res, `HEAD blob ${repository}@${digest}`, repository);
    }
    return Number(res.headers['content-length'] ?? -1);
  }

  /** GET a blob as a stream (redirects to storage hosts followed without credentials). */
  public async getBlob(repository: string, digest: string, scopes = pullScope(repository)): Promise<HttpResponse> {
    const res = await this.call({ method: 'GET', target: `/v2/${repository}/blobs/${digest}`, scopes, what: `blob ${digest}` });
    if (res.status !== 200) {
      throw await this.failure(res, `GET blob ${repository}@${digest}`, repository);
    }
    return res;
  }

  /**
   * Starts an upload. With `mountFrom`, first asks the registry to mount the blob from another
   * repository it holds: `mounted` then means nothing needs to be sent.
   */
  public async startUpload(
    repository: string, scopes: readonly string[], mount?: { digest: string; from: string },
  ): Promise<{ mounted: boolean; location?: URL }> {
    const path = mount
      ? `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}`
      : `/v2/${repository}/blobs/uploads/`;
    const res = await this.call({ method: 'POST', target: path, scopes, what: `upload to ${repository}` });
    if (mount && res.status === 201) {
      discard(res);
      return { mounted: true };
    }
    if (res.status !== 202) {
      throw await this.failure(res, `POST upload ${repository}`, repository);
    }
    discard(res);
    return { mounted: false, location: this.location(res, repository) };
  }

  /** Completes an upload with the whole body in one PUT (`Content-Length` known). */
  public async putUpload(repository: string, location: URL, digest: string, size: number, body: Readable, scopes: readonly string[]): Promise<void> {
    const url = withDigest(location, digest);
    const res = await this.call({
      method: 'PUT',
      target: url,
      scopes,
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      what: `blob ${digest}`,
    });
    if (res.status !== 201 && res.status !== 204) {
      throw await this.failure(res, `PUT blob ${repository}@${digest}`, repository);
    }
    discard(res);
  }

  /** Sends one chunk of a chunked upload; returns the next location. */
  public async patchUpload(repository: string, location: URL, chunk: Buffer, offset: number, scopes: readonly string[]): Promise<URL> {
    const res = await this.call({
      method: 'PATCH',
      target: location,
      scopes,
      body: chunk,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
      what: `upload chunk to ${repository}`,
    });
    if (res.status !== 202 && res.status !== 204) {
      throw await this.failure(res, `PATCH upload ${repository}`, repository);
    }
    discard(res);
    return this.location(res, repository, location);
  }

  /** Closes a chunked upload (no body). */
  public async finishUpload(repository: string, location: URL, digest: string, scopes: readonly string[]): Promise<void> {
    const res = await this.call({ method: 'PUT', target: withDigest(location, digest), scopes, what: `blob ${digest}` });
    if (res.status !== 201 && res.status !== 204) {
      throw await this.failure(res, `PUT blob ${repository}@${digest}`, repository);
    }
    discard(res);
  }

  /**
   * Sends a request with authentication and retries. Replayable requests (no body or a Buffer)
   * are retried on 408/429/5xx and connection failures; a 401 re-authenticates, at most twice.
   * Streamed bodies are sent once: the caller retries the whole transfer.
   */
  public async call(c: Call): Promise<HttpResponse> {
    const url = typeof c.target === 'string' ? new URL(c.target, this.base) : c.target;
    const replayable = !(c.body instanceof Readable);
    let authRetries = 0;
    for (let attempt = 0; ; attempt++) {
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
        if (err instanceof CopyError) {
          throw err;
        }
        if (replayable && attempt + 1 < this.maxAttempts && isRetryableNetworkError(err)) {
          await this.pause(attempt, undefined, `${c.method} ${c.what} on ${this.registry} failed (${describeNetworkError(err)}); retrying`);
          continue;
        }
        throw this.networkError(err, `${c.method} ${c.what}`);
      }
      if (res.status === 401 && authRetries < 2) {
        discard(res);
        const again = await this.auth.challenge(res.headers['www-authenticate'], c.scopes, authorization);
        if (again && replayable) {
          authRetries++;
          attempt--;
          continue;
        }
        if (again) {
          throw new CopyError('UNAUTHORIZED', `${this.registry} asked to re-authenticate during ${c.method} ${c.what}`, {
            registry: this.registry, status: 401, retryable: true,
          });
        }
        return res;
      }
      if (isRetryableStatus(res.status) && replayable && attempt + 1 < this.maxAttempts) {
        discard(res);
        await this.pause(attempt, res.headers['retry-after'], `${c.method} ${c.what} on ${this.registry} answered HTTP ${res.status}; retrying`);
        continue;
      }
      return res;
    }
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

  private location(res: HttpResponse, repository: string, previous?: URL): URL {
    const value = headerValue(res.headers.location);
    if (!value) {
      if (previous) {
        return previous;
      }
      throw new CopyError('REGISTRY', `${this.registry}/${repository} started an upload without a Location header`, { registry: this.registry });
    }
    return new URL(value, res.url);
  }

  private networkError(err: unknown, what: string): CopyError {
    if (err instanceof CopyError) {
      return err;
    }
    return new CopyError('NETWORK', `${what} on ${this.registry} failed: ${describeNetworkError(err)}`, {
      registry: this.registry, retryable: isRetryableNetworkError(err), cause: err,
    });
  }

  private async pause(attempt: number, retryAfter: string | string[] | undefined, message: string): Promise<void> {
    this.onRetry?.(message);
    await sleep(retryDelayMs(attempt, retryAfter), this.signal);
  }

  private throwIfStopped(): void {
    if (this.signal?.aborted) {
      throw stoppedFrom(this.signal);
    }
  }
}

export function pullScope(repository: string): string[] {
  return [`repository:${repository}:pull`];
}

export function pushScope(repository: string): string[] {
  return [`repository:${repository}:pull,push`];
}

export function sha256(bytes: Buffer): string {
  return 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');
}

/** A network error's code and message, never headers or URLs with query strings. */
export function describeNetworkError(err: unknown): string {
  if (err instanceof StoppedError) {
    return err.message;
  }
  const e = err as { code?: string; message?: string };
  const message = (e?.message ?? String(err)).replace(/https?:\/\/\S+/g, '<url>');
  return e?.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
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

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location.toString());
  url.searchParams.set('digest', digest);
  return url;
}
