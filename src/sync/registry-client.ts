import * as crypto from 'crypto';
import { Readable } from 'stream';
import { isDigest } from '../image-reference';
import { CopyError } from './errors';
import { BODY_TOO_LARGE, HttpResponse, discard, readBody } from './http';
import { MANIFEST_ACCEPT } from './manifest-format';
import { Redactor } from './redact';
import { RegistryConnection, RegistryConnectionOptions } from './registry-connection';

export type RegistryClientOptions = RegistryConnectionOptions;

/** The largest manifest the engine reads (distribution's and ECR's own limit on manifest uploads). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

/** Token scopes a request needs, e.g. `repository:app:pull`. */
type Scopes = readonly string[];

export interface ManifestInfo {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

export interface FetchedManifest extends ManifestInfo {
  readonly bytes: Buffer;
}

/**
 * The OCI distribution API of one registry: manifests, blobs and uploads, each answer checked
 * (digests, statuses) and turned into a result or a clear CopyError. Authentication and retries
 * are the {@link RegistryConnection}'s.
 */
export class RegistryClient {
  public readonly registry: string;
  private readonly connection: RegistryConnection;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.connection = new RegistryConnection(options);
  }

  /** Knows every secret the connection has handled. */
  public get redactor(): Redactor {
    return this.connection.redactor;
  }

  /** See {@link RegistryConnection.retrying}. */
  public retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.connection.retrying(what, fn);
  }

  /** HEAD a manifest; undefined when the registry does not have it. */
  public async headManifest(repository: string, reference: string, scopes: Scopes = pullScope(repository)): Promise<ManifestInfo | undefined> {
    const res = await this.connection.call({
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
      throw await this.connection.failure(res, `HEAD manifest ${repository}@${reference}`, repository);
    }
    const digest = headerValue(res.headers['docker-content-digest']);
    if (!digest || !isDigest(digest)) {
      // Some registries omit the digest on HEAD (and a hostile one may send anything): read the bytes instead.
      const fetched = await this.getManifest(repository, reference, scopes);
      return fetched && { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size };
    }
    return {
      digest,
      mediaType: mediaTypeOf(res),
      size: Number(res.headers['content-length'] ?? 0),
    };
  }

  /**
   * GET a manifest's exact bytes; undefined when absent. The digest is computed from the bytes.
   *
   * @param declaredSize the size an index's descriptor gives it: more bytes than that are not read
   */
  public async getManifest(
    repository: string, reference: string, scopes: Scopes = pullScope(repository), declaredSize?: number,
  ): Promise<FetchedManifest | undefined> {
    // A body cut short or corrupted on the way is worth fetching again.
    return this.retrying(`manifest ${repository}@${reference}`, () => this.getManifestOnce(repository, reference, scopes, declaredSize));
  }

  private async getManifestOnce(
    repository: string, reference: string, scopes: readonly string[], declaredSize: number | undefined,
  ): Promise<FetchedManifest | undefined> {
    const res = await this.connection.call({
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
      throw await this.connection.failure(res, `GET manifest ${repository}@${reference}`, repository);
    }
    const limit = Math.min(declaredSize ?? MAX_MANIFEST_SIZE, MAX_MANIFEST_SIZE);
    let bytes: Buffer;
    try {
      bytes = await readBody(res, limit);
    } catch (err) {
      if ((err as { code?: string }).code === BODY_TOO_LARGE) {
        throw declaredSize === undefined
          ? new CopyError('LIMIT', `${this.registry}/${repository}:${reference} served a manifest of more than ${MAX_MANIFEST_SIZE} bytes, more than a manifest may have; refused`, {
            registry: this.registry, reference: `${repository}:${reference}`,
          })
          : new CopyError('DIGEST_MISMATCH', `${this.registry}/${repository}@${reference} served more than the ${declaredSize} bytes its descriptor declares`, {
            registry: this.registry, reference: `${repository}@${reference}`,
          });
      }
      throw this.connection.networkError(err, `reading manifest ${repository}@${reference}`);
    }
    const digest = sha256(bytes);
    const claimed = headerValue(res.headers['docker-content-digest']);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new CopyError('DIGEST_MISMATCH', `${this.registry}/${repository}@${reference} served a manifest whose digest is ${digest}`, {
        registry: this.registry, reference: `${repository}@${reference}`, retryable: true,
      });
    }
    // A claim that is not a digest is no claim (and its text is not repeated).
    if (claimed && isDigest(claimed) && claimed !== digest) {
      throw new CopyError('DIGEST_MISMATCH', `${this.registry}/${repository}:${reference} claims digest ${claimed} but its bytes hash to ${digest}`, {
        registry: this.registry, reference: `${repository}:${reference}`, retryable: true,
      });
    }
    return { bytes, digest, mediaType: mediaTypeOf(res), size: bytes.length };
  }

  /** PUT manifest bytes under a tag or digest; returns the digest the registry reports. */
  public async putManifest(
    repository: string, reference: string, bytes: Buffer, mediaType: string, scopes: Scopes = pushScope(repository),
  ): Promise<string> {
    const res = await this.connection.call({
      method: 'PUT',
      target: `/v2/${repository}/manifests/${reference}`,
      scopes,
      headers: { 'content-type': mediaType },
      body: bytes,
      what: `manifest ${repository}:${reference}`,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw await this.connection.failure(res, `PUT manifest ${repository}:${reference}`, repository);
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
    const res = await this.connection.call({
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
      throw await this.connection.failure(res, `DELETE manifest ${repository}@${digest}`, repository);
    }
    discard(res);
    return true;
  }

  /**
   * One page of the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`): the index's
   * bytes, whether the registry applied the `artifactType` filter (`OCI-Filters-Applied`), and
   * the next page's URL (`Link: <...>; rel="next"`, same origin only). Undefined when the registry
   * has no referrers API (404: a registry with the API answers an empty index instead).
   */
  public async getReferrers(
    repository: string, target: string | URL, scopes: Scopes = pullScope(repository),
  ): Promise<{ bytes: Buffer; filtersApplied: string[]; next?: URL } | undefined> {
    const res = await this.connection.call({
      method: 'GET', target, scopes, headers: { accept: 'application/vnd.oci.image.index.v1+json' }, what: `referrers in ${repository}`,
    });
    if (res.status === 404) {
      discard(res);
      return undefined;
    }
    if (res.status !== 200) {
      throw await this.connection.failure(res, `GET referrers ${repository}`, repository);
    }
    let bytes: Buffer;
    try {
      bytes = await readBody(res, MAX_MANIFEST_SIZE);
    } catch (err) {
      if ((err as { code?: string }).code === BODY_TOO_LARGE) {
        throw new CopyError('LIMIT', `${this.registry}/${repository} served a referrers list of more than ${MAX_MANIFEST_SIZE} bytes; refused`, { registry: this.registry });
      }
      throw this.connection.networkError(err, `reading referrers in ${repository}`);
    }
    const filtersApplied = (headerValue(res.headers['oci-filters-applied']) ?? '').split(',').map(f => f.trim()).filter(f => f !== '');
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerValue(res.headers.link) ?? '');
    let next: URL | undefined;
    if (link) {
      const url = new URL(link[1], res.url);
      // A next page elsewhere would carry the registry's credentials there: only the same origin is followed.
      next = url.origin === res.url.origin ? url : undefined;
    }
    return { bytes, filtersApplied, next };
  }

  /** HEAD a blob: its size when present, undefined when absent. */
  public async headBlob(repository: string, digest: string, scopes: Scopes = pullScope(repository)): Promise<number | undefined> {
    const res = await this.connection.call({ method: 'HEAD', target: `/v2/${repository}/blobs/${digest}`, scopes, what: `blob ${digest}` });
    discard(res);
    if (res.status === 404) {
      return undefined;
    }
    if (res.status !== 200) {
      throw await this.connection.failure(res, `HEAD blob ${repository}@${digest}`, repository);
    }
    return Number(res.headers['content-length'] ?? -1);
  }

  /** GET a blob as a stream (redirects to storage hosts followed without credentials). */
  public async getBlob(repository: string, digest: string, scopes: Scopes = pullScope(repository)): Promise<HttpResponse> {
    const res = await this.connection.call({ method: 'GET', target: `/v2/${repository}/blobs/${digest}`, scopes, what: `blob ${digest}` });
    if (res.status !== 200) {
      throw await this.connection.failure(res, `GET blob ${repository}@${digest}`, repository);
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
    const res = await this.connection.call({ method: 'POST', target: path, scopes, what: `upload to ${repository}` });
    if (mount && res.status === 201) {
      discard(res);
      return { mounted: true };
    }
    if (res.status !== 202) {
      throw await this.connection.failure(res, `POST upload ${repository}`, repository);
    }
    discard(res);
    return { mounted: false, location: this.location(res, repository) };
  }

  /** Completes an upload with the whole body in one PUT (`Content-Length` known). */
  public async putUpload(repository: string, location: URL, digest: string, size: number, body: Readable, scopes: readonly string[]): Promise<void> {
    const url = withDigest(location, digest);
    const res = await this.connection.call({
      method: 'PUT',
      target: url,
      scopes,
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      what: `blob ${digest}`,
    });
    if (res.status !== 201 && res.status !== 204) {
      throw await this.connection.failure(res, `PUT blob ${repository}@${digest}`, repository);
    }
    discard(res);
  }

  /** Sends one chunk of a chunked upload; returns the next location. */
  public async patchUpload(repository: string, location: URL, chunk: Buffer, offset: number, scopes: readonly string[]): Promise<URL> {
    const res = await this.connection.call({
      method: 'PATCH',
      target: location,
      scopes,
      body: chunk,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
      what: `upload chunk to ${repository}`,
    });
    if (res.status !== 202 && res.status !== 204) {
      throw await this.connection.failure(res, `PATCH upload ${repository}`, repository);
    }
    discard(res);
    return this.location(res, repository, location);
  }

  /** Closes a chunked upload (no body). */
  public async finishUpload(repository: string, location: URL, digest: string, scopes: readonly string[]): Promise<void> {
    const res = await this.connection.call({ method: 'PUT', target: withDigest(location, digest), scopes, what: `blob ${digest}` });
    if (res.status !== 201 && res.status !== 204) {
      throw await this.connection.failure(res, `PUT blob ${repository}@${digest}`, repository);
    }
    discard(res);
  }

  /** Cancels an upload session (DELETE its location); whether the registry agreed is not checked. */
  public async cancelUpload(repository: string, location: URL, scopes: readonly string[]): Promise<void> {
    discard(await this.connection.call({ method: 'DELETE', target: location, scopes, what: `upload to ${repository}` }));
  }

  private location(res: HttpResponse, repository: string, previous?: URL): URL {
    const value = headerValue(res.headers.location);
    if (!value) {
      if (previous) {
        return previous;
      }
      throw new CopyError('REGISTRY', `${this.registry}/${repository} started an upload without a Location header`, { registry: this.registry });
    }
    let url: URL;
    try {
      url = new URL(value, res.url);
    } catch {
      throw new CopyError('REGISTRY', `${this.registry}/${repository} answered an upload with an invalid Location`, { registry: this.registry });
    }
    // Another origin is allowed (some registries upload to a storage host) but gets no credentials,
    // nor any of the registry's choosing (user information would become an Authorization header).
    url.username = '';
    url.password = '';
    this.connection.admit(url, `an upload location for ${repository}`);
    return url;
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

/** A media type (RFC 6838 `type/subtype`) from Content-Type, or '' for anything else a registry may send. */
function mediaTypeOf(res: HttpResponse): string {
  const value = (headerValue(res.headers['content-type']) ?? '').split(';')[0].trim();
  return /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(value) ? value : '';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location.toString());
  url.searchParams.set('digest', digest);
  return url;
}
