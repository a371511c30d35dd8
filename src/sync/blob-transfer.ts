/**
 * One verified blob transfer: mounted from another repository of the same registry when it can
 * be, otherwise streamed from the source GET through a verifier into the destination upload
 * (one PUT with the body, or PATCH chunks), and tried again as a whole when it fails on the way.
 *
 * An upload session is not left behind by a retry: one that received no byte (the download failed
 * first) is written to by the next attempt instead of opening another, and one that received part
 * of the blob is cancelled (DELETE) before the next attempt opens a new one, as is a session still
 * open when the blob's copy gives up.
 */
import { Readable, pipeline } from 'stream';
import type { CopyProgressEvent } from './copy';
import { CopyError, StoppedError, describeNetworkError } from './errors';
import { Descriptor } from './manifest-format';
import { RegistryClient } from './registry-client';
import { BLOB_ATTEMPTS, isRetryable, withRetries } from './retry';
import { VerifyingStream } from './verifying-stream';

/** ECR's minimum size of every chunk of a chunked upload but the last. */
export const MIN_CHUNK = 5 * 1024 * 1024;
export const DEFAULT_CHUNK = 8 * 1024 * 1024;
const PROGRESS_STEP = 1024 * 1024;

/**
 * Where blob bytes come from: a registry (a {@link RegistryClient}), or bytes at hand (an
 * artifact packed in memory).
 */
export interface BlobSource {
  /** Names the source in messages. */
  readonly registry: string;
  /** The blob as a stream; a failure is thrown. */
  getBlob(repository: string, digest: string): Promise<{ readonly body: Readable }>;
}

export interface BlobTransferOptions {
  readonly source: BlobSource;
  readonly sourceRepository: string;
  readonly destination: RegistryClient;
  readonly destinationRepository: string;
  /** The scopes of every destination request: one token serves the whole copy (and mounts). */
  readonly scopes: readonly string[];
  /** Ask the destination to mount each blob from the source repository first (both on one registry). */
  readonly mount: boolean;
  /** `monolithic`: POST + one PUT with the body; `chunked`: PATCH chunks, then PUT. */
  readonly uploadMode: 'monolithic' | 'chunked';
  /** Chunk size of chunked uploads. */
  readonly chunkSize: number;
  /** The copy's stop signal: aborting it ends retries and their waits. */
  readonly signal: AbortSignal;
  /** Throws a StoppedError once the copy must stop. */
  readonly checkStop: () => void;
  readonly emit: (event: CopyProgressEvent) => void;
}

/** How a blob came to be at the destination. */
export type BlobOutcome = 'copied' | 'mounted' | 'present';

/** A blob on its way: how much of it has passed. */
export interface BlobProgress {
  readonly digest: string;
  readonly size: number;
  /** Bytes of the current attempt so far. */
  readonly bytes: number;
}

/** Blob transfers of one copy; what one transfer learns of the destination (no mounts, no bodies on PUT) serves the next. */
export class BlobTransfer {
  /** Blob bytes read from the source so far, every attempt counted (what the link carried). */
  public bytesTransferred = 0;
  private chunked: boolean;
  private mountWorks: boolean;
  private readonly inFlight = new Map<string, { size: number; bytes: number }>();
  /** Upload sessions opened for a blob that received no byte: the blob's next attempt writes to it. */
  private readonly unused = new Map<string, URL>();

  constructor(private readonly options: BlobTransferOptions) {
    this.chunked = options.uploadMode === 'chunked';
    this.mountWorks = options.mount;
  }

  /**
   * Copies one blob the destination lacked. A transfer that fails on the way (reset, truncation,
   * corruption, an expired token) is retried as a whole, after checking whether the destination
   * committed the blob after all.
   */
  public async copy(d: Descriptor): Promise<BlobOutcome> {
    try {
      const outcome = await withRetries({
        attempts: BLOB_ATTEMPTS,
        signal: this.options.signal,
        retryable: isRetryable,
        onRetry: n => this.options.emit({
          kind: 'retry', digest: d.digest, message: `blob ${d.digest}: ${n.reason}; retrying (attempt ${n.attempt} of ${n.attempts})`,
        }),
      }, ({ index }) => this.copyOnce(d, index > 0));
      this.inFlight.delete(d.digest);
      return outcome;
    } catch (err) {
      if (!(err instanceof StoppedError)) {
        // A stop leaves the blob listed: the copy reports it as cut short.
        this.inFlight.delete(d.digest);
      }
      await this.cancelUnused(d.digest);
      if (err instanceof CopyError || err instanceof StoppedError) {
        throw err;
      }
      throw new CopyError('NETWORK', `copying blob ${d.digest} failed: ${describeNetworkError(err)}`, {
        registry: this.options.destination.registry, cause: err,
      });
    }
  }

  /** Blobs whose transfer had started and not ended (after a stop: the ones it cut short). */
  public unfinished(): BlobProgress[] {
    return [...this.inFlight.entries()].map(([digest, p]) => ({ digest, size: p.size, bytes: p.bytes }));
  }

  private async copyOnce(d: Descriptor, check: boolean): Promise<BlobOutcome> {
    const { source, destination, sourceRepository, destinationRepository: repo, scopes, emit } = this.options;
    this.options.checkStop();
    // After a failed attempt the blob may have been committed after all: look again.
    if (check && await destination.headBlob(repo, d.digest, scopes) !== undefined) {
      await this.cancelUnused(d.digest);
      emit({ kind: 'blob-skipped', digest: d.digest, total: d.size, message: 'already at the destination' });
      return 'present';
    }
    let location = this.unused.get(d.digest);
    this.unused.delete(d.digest);
    const reused = location !== undefined;
    if (!location && this.mountWorks) {
      try {
        const started = await destination.startUpload(repo, scopes, { digest: d.digest, from: sourceRepository });
        if (started.mounted) {
          emit({ kind: 'blob-skipped', digest: d.digest, total: d.size, message: `mounted from ${sourceRepository}` });
          return 'mounted';
        }
        location = started.location;
      } catch (err) {
        if (!(err instanceof CopyError) || (err.status !== 401 && err.status !== 403 && err.status !== 404 && err.status !== 405)) {
          throw err;
        }
        this.mountWorks = false;
      }
    }
    this.options.checkStop();
    emit({ kind: 'blob-start', digest: d.digest, total: d.size });
    let res: { readonly body: Readable };
    if (location) {
      try {
        res = await source.getBlob(sourceRepository, d.digest);
      } catch (err) {
        this.unused.set(d.digest, location);
        throw err;
      }
    } else {
      // Open the upload and the download at once: one round trip less per blob.
      const [started, fetched] = await Promise.allSettled([
        destination.startUpload(repo, scopes),
        source.getBlob(sourceRepository, d.digest),
      ]);
      if (started.status === 'rejected') {
        if (fetched.status === 'fulfilled') {
          fetched.value.body.destroy();
        }
        throw started.reason;
      }
      if (fetched.status === 'rejected') {
        this.unused.set(d.digest, started.value.location!);
        throw fetched.reason;
      }
      location = started.value.location!;
      res = fetched.value;
    }
    let moved = 0;
    let reported = 0;
    const progress = { size: d.size, bytes: 0 };
    this.inFlight.set(d.digest, progress);
    const verifier = new VerifyingStream({
      digest: d.digest,
      size: d.size,
      source: `${source.registry}/${sourceRepository}`,
      onBytes: n => {
        moved += n;
        progress.bytes = moved;
        this.bytesTransferred += n;
        if (moved - reported >= PROGRESS_STEP) {
          reported = moved;
          emit({ kind: 'blob-progress', digest: d.digest, bytes: moved, total: d.size });
        }
      },
    });
    const body = pipeline(res.body, verifier, () => undefined) as unknown as Readable;
    const session = { location };
    try {
      if (this.chunked) {
        await this.uploadChunked(session, d, body);
      } else {
        await this.uploadMonolithic(location, d, body);
      }
    } catch (err) {
      if (reused && err instanceof CopyError && [400, 404, 416].includes(err.status ?? 0)) {
        // The registry no longer knows the session it opened (expired, or not reusable): a new one, now.
        throw new CopyError(err.code, `${err.message}; opening a new upload`, { registry: err.registry, status: err.status, retryable: true });
      }
      if (moved === 0) {
        // No byte reached the session (the verifier holds bytes back until they passed it).
        this.unused.set(d.digest, session.location);
      } else {
        await this.cancel(session.location);
      }
      throw err;
    } finally {
      if (!res.body.readableEnded) {
        res.body.destroy();
      }
    }
    emit({ kind: 'blob-done', digest: d.digest, bytes: d.size, total: d.size });
    return 'copied';
  }

  private async uploadMonolithic(location: URL, d: Descriptor, body: Readable): Promise<void> {
    try {
      await this.options.destination.putUpload(this.options.destinationRepository, location, d.digest, d.size, body, this.options.scopes);
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

  /** Cancels the blob's session that received no byte, if there is one (a copy that gave up). */
  private async cancelUnused(digest: string): Promise<void> {
    const location = this.unused.get(digest);
    this.unused.delete(digest);
    if (location) {
      await this.cancel(location);
    }
  }

  /**
   * Cancels an abandoned upload session, best effort: a registry that does not support it (or a
   * stop) leaves it to expire, as it would have anyway.
   */
  private async cancel(location: URL): Promise<void> {
    try {
      await this.options.destination.cancelUpload(this.options.destinationRepository, location, this.options.scopes);
    } catch {
      // Best effort.
    }
  }

  /** PATCH chunks then the closing PUT; `session.location` follows the registry's answers (for a cancel). */
  private async uploadChunked(session: { location: URL }, d: Descriptor, body: Readable): Promise<void> {
    const { destination, destinationRepository: repo, scopes, chunkSize } = this.options;
    let location = session.location;
    let offset = 0;
    let parts: Buffer[] = [];
    let buffered = 0;
    const flush = async () => {
      const chunk = parts.length === 1 ? parts[0] : Buffer.concat(parts, buffered);
      parts = [];
      buffered = 0;
      location = await destination.patchUpload(repo, location, chunk, offset, scopes);
      session.location = location;
      offset += chunk.length;
    };
    for await (const piece of body) {
      parts.push(piece as Buffer);
      buffered += (piece as Buffer).length;
      if (buffered >= chunkSize) {
        await flush();
      }
    }
    if (buffered > 0) {
      await flush();
    }
    await destination.finishUpload(repo, location, d.digest, scopes);
  }
}
