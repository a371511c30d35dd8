import { setMaxListeners } from 'events';
import { Readable, pipeline } from 'stream';
import { ImageReference, formatImageReference, isLoopbackHost, normalizeDockerHub, parseImageReference } from '../image-reference';
import { CredentialSource } from './auth';
import { CopyError, StoppedError, redact } from './errors';
import { HttpPool, HttpResponse, isRetryableNetworkError, readBody, retryDelayMs, sleep, stoppedFrom } from './http';
import {
  Descriptor, FOREIGN_LAYER_TYPES, IMAGE_CONFIG_TYPES, ParsedManifest, Platform,
  formatPlatform, isIndexType, parseManifest, parsePlatform, platformMatches,
} from './media-types';
import { FetchedManifest, RegistryClient, describeNetworkError, sha256 } from './registry-client';
import { VerifyingStream } from './verify';

/** A progress notification; messages never contain credentials. */
export interface CopyProgressEvent {
  readonly kind: 'manifest' | 'blob-start' | 'blob-progress' | 'blob-done' | 'blob-skipped' | 'tag' | 'retry';
  readonly digest?: string;
  /** Bytes of this blob moved so far (blob-progress, blob-done). */
  readonly bytes?: number;
  /** Size of this blob. */
  readonly total?: number;
  readonly message?: string;
}

export interface CopyImageOptions {
  /** `host[:port]/repo[:tag][@digest]`; the digest wins over the tag; neither means `latest`. */
  readonly source: string;
  /** `host[:port]/repo[:tag]`; the tag defaults to the source's tag. */
  readonly destination: string;
  readonly sourceCredentials?: CredentialSource;
  readonly destinationCredentials?: CredentialSource;
  /** `os/arch[/variant]` to copy from an index; default all. */
  readonly platforms?: string[];
  /** Parallel blob copies, default 6. */
  readonly concurrency?: number;
  /** Epoch ms: stop cleanly before it with `complete: false` (the tag is not moved). */
  readonly deadline?: number;
  /** Aborting stops the copy like the deadline does. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: CopyProgressEvent) => void;
  /** Which registries speak plain HTTP; default: loopback hosts. */
  readonly plainHttp?: (registry: string) => boolean;
  /** `monolithic` (POST + one PUT with the body, the default) or `chunked` (PATCH chunks). */
  readonly uploadMode?: 'monolithic' | 'chunked';
  /** Chunk size for chunked uploads, at least 5 MiB (ECR's minimum for all but the last chunk). Default 8 MiB. */
  readonly chunkSize?: number;
}

export interface CopyResult {
  /** False when the deadline (or the signal) stopped the copy; the tag was not moved. */
  readonly complete: boolean;
  /** The digest now under the destination tag (or that will be, once complete). */
  readonly digest: string;
  /** The source's digest: differs from `digest` only when `platforms` filtered an index. */
  readonly sourceDigest: string;
  readonly mediaType: string;
  /** Bytes of all manifests and blobs of the copied image. */
  readonly size: number;
  readonly tag?: string;
  /** Platforms copied (`os/arch[/variant]`); empty for a single image whose config names none. */
  readonly platforms: string[];
  readonly bytesCopied: number;
  readonly blobsCopied: number;
  /** Blobs the destination already had. */
  readonly blobsSkipped: number;
  /** Blobs mounted from the source repository on the same registry (no bytes moved). */
  readonly blobsMounted: number;
  readonly manifestsCopied: number;
  readonly manifestsSkipped: number;
  /** The destination already had the digest under the tag: nothing was written. */
  readonly alreadyPresent: boolean;
}

/** What a result says of the image itself. */
type CopiedImage = Pick<CopyResult, 'digest' | 'sourceDigest' | 'mediaType' | 'size' | 'platforms'>;

/** A manifest and its children, as read from the source. */
interface ManifestNode {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
  readonly children: ManifestNode[];
  readonly platforms: string[];
}

const DEFAULT_CONCURRENCY = 6;
const MIN_CHUNK = 5 * 1024 * 1024;
const DEFAULT_CHUNK = 8 * 1024 * 1024;
const BLOB_ATTEMPTS = 4;
const PROGRESS_STEP = 1024 * 1024;
const MAX_TIMER_MS = 2_147_000_000;
const HEAD_FAN_OUT = 16;
/** Blobs below this size are bound by round trips, not bytes. */
const SMALL_BLOB = 1024 * 1024;
const SMALL_PER_SLOT = 4;

/**
 * Copies an image, index or artifact from one registry to another: byte for byte, children before
 * parents, the tag last, skipping what the destination has, streaming and verifying every blob.
 */
export async function copyImage(options: CopyImageOptions): Promise<CopyResult> {
  const source = parseReference(options.source, 'source');
  const destination = parseReference(options.destination, 'destination');
  if (destination.digest) {
    throw new CopyError('INVALID', `the destination ${JSON.stringify(options.destination)} must not name a digest: the copy keeps the source's digest`);
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CopyError('INVALID', `concurrency ${JSON.stringify(concurrency)} is not allowed: an integer from 1 to 64`);
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK) {
    throw new CopyError('INVALID', `chunkSize ${JSON.stringify(chunkSize)} is not allowed: an integer of at least ${MIN_CHUNK} (5 MiB)`);
  }
  let platforms: Platform[] | undefined;
  try {
    platforms = options.platforms && options.platforms.length > 0 ? options.platforms.map(parsePlatform) : undefined;
  } catch (err) {
    throw new CopyError('INVALID', (err as Error).message);
  }
  const copier = new Copier(options, source, destination, concurrency, chunkSize, platforms);
  try {
    return await copier.run();
  } catch (err) {
    throw copier.scrub(err);
  } finally {
    copier.close();
  }
}

function parseReference(text: string, which: string): ImageReference {
  try {
    return normalizeDockerHub(parseImageReference(text));
  } catch (err) {
    throw new CopyError('INVALID', `${which}: ${(err as Error).message}`);
  }
}

class Copier {
  private readonly stop = new AbortController();
  private readonly pool: HttpPool;
  private readonly src: RegistryClient;
  private readonly dst: RegistryClient;
  private readonly dstScopes: string[];
  private readonly sameRegistry: boolean;
  private readonly tag?: string;
  private readonly timer?: NodeJS.Timeout;
  private readonly onCallerAbort?: () => void;
  private chunked: boolean;
  private mountWorks: boolean;
  private bytesCopied = 0;
  private blobsCopied = 0;
  private blobsSkipped = 0;
  private blobsMounted = 0;
  private manifestsCopied = 0;
  private manifestsSkipped = 0;

  constructor(
    private readonly options: CopyImageOptions,
    private readonly source: ImageReference,
    private readonly destination: ImageReference,
    private readonly concurrency: number,
    private readonly chunkSize: number,
    private readonly platforms: Platform[] | undefined,
  ) {
    const plainHttp = options.plainHttp ?? isLoopbackHost;
    // Every parallel blob holds a source GET and a destination PUT, plus HEADs and token fetches.
    this.pool = new HttpPool({ maxSockets: Math.max(concurrency * SMALL_PER_SLOT * 2 + 4, HEAD_FAN_OUT + 4) });
    const onRetry = (message: string) => this.emit({ kind: 'retry', message });
    this.src = new RegistryClient({
      registry: source.registry,
      credentials: options.sourceCredentials,
      plainHttp: plainHttp(source.registry),
      pool: this.pool,
      signal: this.stop.signal,
      onRetry,
    });
    this.dst = new RegistryClient({
      registry: destination.registry,
      credentials: options.destinationCredentials,
      plainHttp: plainHttp(destination.registry),
      pool: this.pool,
      signal: this.stop.signal,
      onRetry,
    });
    this.sameRegistry = source.registry === destination.registry;
    // One scope set for every destination request: one token serves the whole copy (and mounts).
    this.dstScopes = [`repository:${destination.repository}:pull,push`];
    if (this.sameRegistry && source.repository !== destination.repository) {
      this.dstScopes.push(`repository:${source.repository}:pull`);
    }
    this.mountWorks = this.sameRegistry && source.repository !== destination.repository;
    this.chunked = options.uploadMode === 'chunked';
    this.tag = destination.tag ?? source.tag ?? (source.digest ? undefined : 'latest');
    // Every in-flight request listens on the stop signal.
    setMaxListeners(0, this.stop.signal);

    if (options.signal) {
      if (options.signal.aborted) {
        this.stop.abort(new StoppedError('aborted'));
      } else {
        this.onCallerAbort = () => this.stop.abort(new StoppedError('aborted'));
        options.signal.addEventListener('abort', this.onCallerAbort, { once: true });
      }
    }
    if (options.deadline !== undefined) {
      const wait = options.deadline - Date.now();
      if (wait <= 0) {
        this.stop.abort(new StoppedError('deadline'));
      } else if (wait < MAX_TIMER_MS) {
        this.timer = setTimeout(() => this.stop.abort(new StoppedError('deadline')), wait);
        this.timer.unref?.();
      }
    }
  }

  public async run(): Promise<CopyResult> {
    try {
      return await this.plan();
    } catch (err) {
      if (err instanceof StoppedError) {
        // Stopped before the source manifest was read: nothing is known, nothing was written.
        const digest = this.source.digest ?? '';
        return this.result({ digest, sourceDigest: digest, mediaType: '', size: 0, platforms: [] }, false, false);
      }
      throw err;
    }
  }

  private result(image: CopiedImage, complete: boolean, alreadyPresent: boolean): CopyResult {
    return {
      complete,
      ...image,
      tag: this.tag,
      bytesCopied: this.bytesCopied,
      blobsCopied: this.blobsCopied,
      blobsSkipped: this.blobsSkipped,
      blobsMounted: this.blobsMounted,
      manifestsCopied: this.manifestsCopied,
      manifestsSkipped: this.manifestsSkipped,
      alreadyPresent,
    };
  }

  private async plan(): Promise<CopyResult> {
    const srcRef = this.source.digest ?? this.source.tag ?? 'latest';
    const [top, tagged] = await Promise.all([
      this.src.getManifest(this.source.repository, srcRef),
      this.tag ? this.dst.headManifest(this.destination.repository, this.tag, this.dstScopes) : Promise.resolve(undefined),
    ]);
    if (!top) {
      throw new CopyError('NOT_FOUND', `${formatImageReference({ ...this.source, tag: this.source.digest ? undefined : srcRef })} does not exist; check the repository and tag`, {
        registry: this.source.registry, reference: formatImageReference(this.source), status: 404,
      });
    }
    const sourceDigest = top.digest;
    const root = await this.load(top, this.platforms, true);
    const manifests = postOrder(root);
    const blobs = collectBlobs(manifests);
    const size = manifests.reduce((n, m) => n + m.bytes.length, 0) + [...blobs.values()].reduce((n, b) => n + b.size, 0);
    const image: CopiedImage = { digest: root.digest, sourceDigest, mediaType: root.mediaType, size, platforms: root.platforms };
    const result = (complete: boolean, alreadyPresent: boolean) => this.result(image, complete, alreadyPresent);

    let present;
    try {
      present = this.tag ? tagged : await this.dst.headManifest(this.destination.repository, root.digest, this.dstScopes);
    } catch (err) {
      if (err instanceof StoppedError) {
        return result(false, false);
      }
      throw err;
    }
    if (present?.digest === root.digest) {
      // Immutable repositories reject re-putting a tag even with the same digest: a match is success.
      this.blobsSkipped = blobs.size;
      this.manifestsSkipped = manifests.length;
      this.emit({ kind: 'manifest', digest: root.digest, message: `${this.destRef()} already holds ${root.digest}` });
      return result(true, true);
    }

    try {
      await this.copyBlobs([...blobs.values()]);
      await this.copyManifests(manifests, root);
    } catch (err) {
      if (err instanceof StoppedError) {
        return result(false, false);
      }
      throw err;
    }
    return result(true, false);
  }

  /** Removes every credential the copy handled from an error's message. */
  public scrub(err: unknown): unknown {
    if (err instanceof StoppedError) {
      return err;
    }
    const secrets = [...this.src.auth.secrets, ...this.dst.auth.secrets];
    if (err instanceof Error) {
      err.message = redact(err.message, secrets);
      if (!(err instanceof CopyError)) {
        return new CopyError('REGISTRY', err.message, { cause: err });
      }
    }
    return err;
  }

  public close(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    if (this.onCallerAbort) {
      this.options.signal?.removeEventListener('abort', this.onCallerAbort);
    }
    this.pool.close();
  }

  /** Reads the manifest tree from the source, applying the platform filter to a top-level index. */
  private async load(fetched: FetchedManifest, platforms: Platform[] | undefined, isTop: boolean): Promise<ManifestNode> {
    const where = `${this.source.registry}/${this.source.repository}@${fetched.digest}`;
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(fetched.bytes, fetched.mediaType);
    } catch (err) {
      const message = (err as Error).message;
      throw new CopyError(/not supported|unsupported/.test(message) ? 'UNSUPPORTED' : 'INVALID', `${where}: ${message}`, {
        registry: this.source.registry, reference: where,
      });
    }
    if (isIndexType(parsed.mediaType)) {
      let entries = parsed.manifests;
      let bytes = fetched.bytes;
      let digest = fetched.digest;
      if (platforms) {
        entries = selectPlatforms(entries, platforms);
        if (entries.length === 0) {
          const available = parsed.manifests.filter(d => d.platform).map(d => formatPlatform(d.platform!)).join(', ') || 'none';
          throw new CopyError('NOT_FOUND', `${where} has no manifest for ${platforms.map(formatPlatform).join(', ')}; it has: ${available}`, {
            registry: this.source.registry, reference: where,
          });
        }
        if (entries.length !== parsed.manifests.length) {
          // A subset is a new index, with a new digest (reported as `digest` next to `sourceDigest`).
          const json = JSON.parse(fetched.bytes.toString('utf8'));
          const keep = new Set(entries);
          json.manifests = json.manifests.filter((_: unknown, i: number) => keep.has(parsed.manifests[i]));
          bytes = Buffer.from(JSON.stringify(json), 'utf8');
          digest = sha256(bytes);
          parsed = { ...parsed, manifests: entries };
        }
      }
      const children = await mapLimit(entries, this.concurrency, async d => {
        const child = await this.src.getManifest(this.source.repository, d.digest);
        if (!child) {
          throw new CopyError('NOT_FOUND', `${where} lists ${d.digest}, which the source does not have`, { registry: this.source.registry, reference: where, status: 404 });
        }
        if (child.size !== d.size) {
          throw new CopyError('DIGEST_MISMATCH', `${where} lists ${d.digest} with size ${d.size}, but it has ${child.size} bytes`, {
            registry: this.source.registry, reference: where,
          });
        }
        return this.load({ ...child, mediaType: child.mediaType || d.mediaType }, undefined, false);
      });
      return {
        digest,
        mediaType: parsed.mediaType,
        bytes,
        parsed,
        children,
        platforms: [...new Set(entries.filter(isPlatformEntry).map(d => formatPlatform(d.platform!)))],
      };
    }
    let imagePlatforms: string[] = [];
    if (isTop) {
      // Index children take their platform from the index; a single image from its config.
      const platform = await this.configPlatform(parsed.config);
      imagePlatforms = platform ? [formatPlatform(platform)] : [];
      if (platforms && !(platform && platforms.some(p => platformMatches(p, platform)))) {
        throw new CopyError('NOT_FOUND', `${where} is a single image for ${platform ? formatPlatform(platform) : 'an unknown platform'}, not ${platforms.map(formatPlatform).join(', ')}`, {
          registry: this.source.registry, reference: where,
        });
      }
    }
    return { digest: fetched.digest, mediaType: parsed.mediaType, bytes: fetched.bytes, parsed, children: [], platforms: imagePlatforms };
  }

  /** The platform an image config declares (small JSON, read from the source), if it is an image config. */
  private async configPlatform(config: Descriptor | undefined): Promise<Platform | undefined> {
    if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType) || config.size > 1024 * 1024) {
      return undefined;
    }
    const bytes = await this.src.retrying(`config ${config.digest}`, async () => {
      const res = await this.src.getBlob(this.source.repository, config.digest);
      let body: Buffer;
      try {
        body = await readBody(res, 1024 * 1024);
      } catch (err) {
        throw new CopyError('NETWORK', `reading config ${config.digest} from ${this.source.registry} failed: ${describeNetworkError(err)}`, {
          registry: this.source.registry, retryable: true, cause: err,
        });
      }
      if (sha256(body) !== config.digest) {
        throw new CopyError('DIGEST_MISMATCH', `config ${config.digest} from ${this.source.registry}/${this.source.repository} does not match its digest`, {
          registry: this.source.registry, retryable: true,
        });
      }
      return body;
    });
    try {
      const json = JSON.parse(bytes.toString('utf8'));
      if (typeof json.os === 'string' && typeof json.architecture === 'string') {
        return { os: json.os, architecture: json.architecture, variant: typeof json.variant === 'string' ? json.variant : undefined };
      }
    } catch {
      // not JSON: no platform
    }
    return undefined;
  }

  private async copyBlobs(blobs: Descriptor[]): Promise<void> {
    // Largest first: the long transfers start early and the small ones fill the gaps.
    const order = [...blobs].sort((a, b) => b.size - a.size);
    // Existence checks are small requests: run them all up front, wider than the transfers, so
    // that a re-sync costs one round of HEADs and each transfer starts without one.
    const present = await mapLimit(order, HEAD_FAN_OUT, async d => {
      this.checkStop();
      return await this.dst.headBlob(this.destination.repository, d.digest, this.dstScopes) !== undefined;
    });
    const missing: Descriptor[] = [];
    order.forEach((d, i) => {
      if (present[i]) {
        this.blobsSkipped++;
        this.emit({ kind: 'blob-skipped', digest: d.digest, total: d.size, message: 'already at the destination' });
      } else {
        missing.push(d);
      }
    });
    // Small blobs cost requests, not bandwidth: four of them run in the slot of one large blob.
    await runWeighted(missing, this.concurrency * SMALL_PER_SLOT, d => (d.size < SMALL_BLOB ? 1 : SMALL_PER_SLOT), d => this.copyBlobWithRetries(d));
  }

  private async copyBlobWithRetries(d: Descriptor): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.copyBlob(d, attempt > 0);
        return;
      } catch (err) {
        if (this.stop.signal.aborted) {
          throw stoppedFrom(this.stop.signal);
        }
        const retryable = err instanceof CopyError ? err.retryable : isRetryableNetworkError(err);
        if (!retryable || attempt + 1 >= BLOB_ATTEMPTS) {
          throw err instanceof CopyError ? err : new CopyError('NETWORK', `copying blob ${d.digest} failed: ${describeNetworkError(err)}`, {
            registry: this.destination.registry, cause: err,
          });
        }
        this.emit({ kind: 'retry', digest: d.digest, message: `blob ${d.digest}: ${(err as Error).message}; retrying (attempt ${attempt + 2} of ${BLOB_ATTEMPTS})` });
        await sleep(retryDelayMs(attempt), this.stop.signal);
      }
    }
  }

  private async copyBlob(d: Descriptor, check: boolean): Promise<void> {
    this.checkStop();
    const repo = this.destination.repository;
    // After a failed attempt the blob may have been committed after all: look again.
    if (check && await this.dst.headBlob(repo, d.digest, this.dstScopes) !== undefined) {
      this.blobsSkipped++;
      this.emit({ kind: 'blob-skipped', digest: d.digest, total: d.size, message: 'already at the destination' });
      return;
    }
    let location: URL | undefined;
    if (this.mountWorks) {
      try {
        const started = await this.dst.startUpload(repo, this.dstScopes, { digest: d.digest, from: this.source.repository });
        if (started.mounted) {
          this.blobsMounted++;
          this.emit({ kind: 'blob-skipped', digest: d.digest, total: d.size, message: `mounted from ${this.source.repository}` });
          return;
        }
        location = started.location;
      } catch (err) {
        if (!(err instanceof CopyError) || (err.status !== 401 && err.status !== 403 && err.status !== 404 && err.status !== 405)) {
          throw err;
        }
        this.mountWorks = false;
      }
    }
    this.checkStop();
    this.emit({ kind: 'blob-start', digest: d.digest, total: d.size });
    let res: HttpResponse;
    if (location) {
      res = await this.src.getBlob(this.source.repository, d.digest);
    } else {
      // Open the upload and the download at once: one round trip less per blob.
      const [started, fetched] = await Promise.allSettled([
        this.dst.startUpload(repo, this.dstScopes),
        this.src.getBlob(this.source.repository, d.digest),
      ]);
      if (started.status === 'rejected') {
        if (fetched.status === 'fulfilled') {
          fetched.value.body.destroy();
        }
        throw started.reason;
      }
      if (fetched.status === 'rejected') {
        throw fetched.reason;
      }
      location = started.value.location!;
      res = fetched.value;
    }
    let moved = 0;
    let reported = 0;
    const verifier = new VerifyingStream({
      digest: d.digest,
      size: d.size,
      source: `${this.source.registry}/${this.source.repository}`,
      onBytes: n => {
        moved += n;
        if (moved - reported >= PROGRESS_STEP) {
          reported = moved;
          this.emit({ kind: 'blob-progress', digest: d.digest, bytes: moved, total: d.size });
        }
      },
    });
    const body = pipeline(res.body, verifier, () => undefined) as unknown as Readable;
    try {
      if (this.chunked) {
        await this.uploadChunked(repo, location, d, body);
      } else {
        await this.uploadMonolithic(repo, location, d, body);
      }
    } finally {
      if (!res.body.readableEnded) {
        res.body.destroy();
      }
    }
    this.blobsCopied++;
    this.bytesCopied += d.size;
    this.emit({ kind: 'blob-done', digest: d.digest, bytes: d.size, total: d.size });
  }

  private async uploadMonolithic(repo: string, location: URL, d: Descriptor, body: Readable): Promise<void> {
    try {
      await this.dst.putUpload(repo, location, d.digest, d.size, body, this.dstScopes);
    } catch (err) {
      if (err instanceof CopyError && err.status !== undefined && err.status >= 400 && err.status < 500
        && ![401, 403, 404, 408, 429].includes(err.status) && err.code !== 'INVALID') {
        // The registry does not take a body on the closing PUT: switch to PATCH chunks and retry.
        this.chunked = true;
        throw new CopyError(err.code, `${err.message}; switching to chunked uploads`, { registry: err.registry, status: err.status, retryable: true });
      }
      throw err;
    }
  }

  private async uploadChunked(repo: string, start: URL, d: Descriptor, body: Readable): Promise<void> {
    let location = start;
    let offset = 0;
    let parts: Buffer[] = [];
    let buffered = 0;
    const flush = async () => {
      const chunk = parts.length === 1 ? parts[0] : Buffer.concat(parts, buffered);
      parts = [];
      buffered = 0;
      location = await this.dst.patchUpload(repo, location, chunk, offset, this.dstScopes);
      offset += chunk.length;
    };
    for await (const piece of body) {
      parts.push(piece as Buffer);
      buffered += (piece as Buffer).length;
      if (buffered >= this.chunkSize) {
        await flush();
      }
    }
    if (buffered > 0) {
      await flush();
    }
    await this.dst.finishUpload(repo, location, d.digest, this.dstScopes);
  }

  private async copyManifests(manifests: ManifestNode[], root: ManifestNode): Promise<void> {
    const repo = this.destination.repository;
    // Deepest first; manifests at the same depth are independent of each other.
    const depths = new Map<string, number>();
    const visit = (node: ManifestNode, depth: number) => {
      depths.set(node.digest, Math.max(depths.get(node.digest) ?? 0, depth));
      node.children.forEach(c => visit(c, depth + 1));
    };
    visit(root, 0);
    const maxDepth = Math.max(...depths.values());
    for (let depth = maxDepth; depth >= 1; depth--) {
      const level = manifests.filter(m => m !== root && depths.get(m.digest) === depth);
      await mapLimit(level, this.concurrency, async m => {
        this.checkStop();
        if (await this.dst.headManifest(repo, m.digest, this.dstScopes)) {
          this.manifestsSkipped++;
          this.emit({ kind: 'manifest', digest: m.digest, message: 'already at the destination' });
          return;
        }
        await this.dst.putManifest(repo, m.digest, m.bytes, m.mediaType, this.dstScopes);
        this.manifestsCopied++;
        this.emit({ kind: 'manifest', digest: m.digest, message: `put ${m.mediaType}` });
      });
    }
    this.checkStop();
    if (this.tag) {
      // The tag moves last, in one request, once everything under it exists.
      await this.dst.putManifest(repo, this.tag, root.bytes, root.mediaType, this.dstScopes);
      this.manifestsCopied++;
      this.emit({ kind: 'tag', digest: root.digest, message: `${this.destRef()} -> ${root.digest}` });
    } else {
      // Untagged copy: plan() found the root absent at the destination.
      await this.dst.putManifest(repo, root.digest, root.bytes, root.mediaType, this.dstScopes);
      this.manifestsCopied++;
      this.emit({ kind: 'manifest', digest: root.digest, message: `put ${root.mediaType}` });
    }
  }

  private checkStop(): void {
    if (this.options.deadline !== undefined && Date.now() >= this.options.deadline && !this.stop.signal.aborted) {
      this.stop.abort(new StoppedError('deadline'));
    }
    if (this.stop.signal.aborted) {
      throw stoppedFrom(this.stop.signal);
    }
  }

  private destRef(): string {
    return formatImageReference({ registry: this.destination.registry, repository: this.destination.repository, tag: this.tag });
  }

  private emit(event: CopyProgressEvent): void {
    if (!this.options.onProgress) {
      return;
    }
    try {
      this.options.onProgress(event);
    } catch {
      // A failing progress callback must not break the copy.
    }
  }
}

/** Index entries to keep for the wanted platforms; attestations follow the image they describe. */
export function selectPlatforms(entries: Descriptor[], wanted: Platform[]): Descriptor[] {
  const kept = new Set(entries.filter(d => isPlatformEntry(d) && wanted.some(w => platformMatches(w, d.platform!))).map(d => d.digest));
  return entries.filter(d => {
    if (kept.has(d.digest)) {
      return true;
    }
    const describes = d.annotations?.['vnd.docker.reference.digest'];
    return describes !== undefined && d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' && kept.has(describes);
  });
}

function isPlatformEntry(d: Descriptor): boolean {
  return !!d.platform && d.platform.os !== 'unknown' && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest';
}

/** Every manifest once, children before parents. */
function postOrder(root: ManifestNode): ManifestNode[] {
  const seen = new Set<string>();
  const out: ManifestNode[] = [];
  const visit = (node: ManifestNode) => {
    node.children.forEach(visit);
    if (!seen.has(node.digest)) {
      seen.add(node.digest);
      out.push(node);
    }
  };
  visit(root);
  return out;
}

/** Unique blobs (configs and layers) of all image manifests; foreign layers stay where their URLs point. */
function collectBlobs(manifests: ManifestNode[]): Map<string, Descriptor> {
  const blobs = new Map<string, Descriptor>();
  for (const m of manifests) {
    const all = m.parsed.config ? [m.parsed.config, ...m.parsed.layers] : m.parsed.layers;
    for (const d of all) {
      if (FOREIGN_LAYER_TYPES.has(d.mediaType) && d.urls && d.urls.length > 0) {
        continue;
      }
      if (!blobs.has(d.digest)) {
        blobs.set(d.digest, d);
      }
    }
  }
  return blobs;
}

/**
 * Runs `fn` over items in order, each taking `weight(item)` of `capacity` while it runs (a weight
 * above the capacity takes all of it). The first failure stops new starts and is thrown once all
 * in flight settle; a real failure wins over a stop.
 */
export async function runWeighted<T>(items: T[], capacity: number, weight: (item: T) => number, fn: (item: T) => Promise<void>): Promise<void> {
  const state: { inUse: number; failure?: { error: unknown } } = { inUse: 0 };
  const running = new Set<Promise<void>>();
  for (const item of items) {
    const w = Math.max(1, Math.min(weight(item), capacity));
    while (!state.failure && state.inUse + w > capacity) {
      await Promise.race(running);
    }
    if (state.failure) {
      break;
    }
    state.inUse += w;
    const task: Promise<void> = fn(item)
      .catch(error => {
        const current = state.failure as { error: unknown } | undefined;
        if (!current || (current.error instanceof StoppedError && !(error instanceof StoppedError))) {
          state.failure = { error };
        }
      })
      .finally(() => {
        state.inUse -= w;
        running.delete(task);
      });
    running.add(task);
  }
  await Promise.all(running);
  if (state.failure) {
    throw state.failure.error;
  }
}

/** Runs `fn` over items with at most `limit` in flight; the first failure stops new starts and is thrown once all in flight settle. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  await runWeighted(items.map((item, index) => ({ item, index })), limit, () => 1, async ({ item, index }) => {
    results[index] = await fn(item);
  });
  return results;
}
