/**
 * Pushes an artifact packed in memory (a Helm chart, a file bundle) to a registry with the copy
 * engine's own pieces: the same client, authentication, retries and blob uploads as a copy,
 * children before the parent and the tag last.
 */
import { Readable } from 'stream';
import { formatImageReference, isLoopbackHost } from '../image-reference';
import { CredentialSource } from './auth';
import { BlobSource, BlobTransfer, DEFAULT_CHUNK } from './blob-transfer';
import { mapLimit } from './concurrency';
import type { CopyProgressEvent } from './copy';
import { CopyError, StoppedError } from './errors';
import { HttpPool } from './http';
import { Redactor } from './redact';
import { ImageReferenceInput, engineReference } from './reference';
import { RegistryClient } from './registry-client';
import { RegistryRoutes, routeOf } from './registry-connection';
import { StopSignal } from './stop-signal';

/** What a push needs of an artifact: the manifest's bytes and every blob it names. */
export interface PushableArtifact {
  readonly manifest: Buffer;
  readonly mediaType: string;
  readonly digest: string;
  readonly blobs: ReadonlyMap<string, Buffer>;
  /** For an index: the manifests below it, children before their parents; pushed by digest before the tag. */
  readonly children?: readonly { readonly digest: string; readonly mediaType: string; readonly manifest: Buffer }[];
  /** The tag to push under when the destination names none. */
  readonly tag: string;
}

export interface PushArtifactOptions extends RegistryRoutes {
  readonly artifact: PushableArtifact;
  /** `host[:port]/repo[:tag]`: the tag defaults to the artifact's. */
  readonly destination: ImageReferenceInput;
  readonly credentials?: CredentialSource;
  /** Parallel blob uploads, default 4. */
  readonly concurrency?: number;
  /** Epoch ms: stop cleanly before it; the tag is not moved. */
  readonly deadline?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: CopyProgressEvent) => void;
  /** @default - a redactor of the push's own */
  readonly redactor?: Redactor;
}

export interface PushArtifactResult {
  readonly complete: boolean;
  readonly digest: string;
  readonly mediaType: string;
  readonly tag: string;
  /** `registry/repository@digest`. */
  readonly reference: string;
  readonly blobsPushed: number;
  readonly blobsSkipped: number;
  readonly bytesPushed: number;
  /** The destination already held the digest under the tag: nothing was written. */
  readonly alreadyPresent: boolean;
}

/** Bytes at hand served as a blob source. */
class MemoryBlobs implements BlobSource {
  public readonly registry = 'memory';
  constructor(private readonly blobs: ReadonlyMap<string, Buffer>) {}

  public async getBlob(_repository: string, digest: string): Promise<{ body: Readable }> {
    const bytes = this.blobs.get(digest);
    if (!bytes) {
      throw new CopyError('INVALID', `the artifact names blob ${digest} but does not carry it`);
    }
    return { body: Readable.from([bytes]) };
  }
}

/**
 * Uploads the artifact's blobs the destination lacks, then the manifests below its top one (by
 * digest, children first), then its manifest under the tag.
 *
 * @throws CopyError naming the registry and what failed
 */
export async function pushArtifact(options: PushArtifactOptions): Promise<PushArtifactResult> {
  const destination = engineReference(options.destination, 'destination');
  if (destination.digest) {
    throw new CopyError('INVALID', `the destination ${formatImageReference(destination)} must not name a digest: give a repository and, if you like, a tag`);
  }
  const tag = destination.tag ?? options.artifact.tag;
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CopyError('INVALID', `concurrency ${JSON.stringify(concurrency)} is not allowed: an integer from 1 to 64`);
  }
  const missing = namedBlobs(options.artifact.manifest).filter(d => !options.artifact.blobs.has(d));
  if (missing.length > 0) {
    throw new CopyError('INVALID', `the artifact's manifest names blob(s) it does not carry: ${missing.join(', ')}; nothing was pushed`);
  }
  const redactor = options.redactor ?? new Redactor();
  const emit = (event: CopyProgressEvent) => {
    try {
      options.onProgress?.(redactor.event(event));
    } catch {
      // A failing progress callback must not break the push.
    }
  };
  const stop = new StopSignal(options.deadline, options.signal);
  const pool = new HttpPool({
    maxSockets: concurrency * 2 + 4, plainHttp: options.plainHttp ?? isLoopbackHost, lookup: options.lookup, ca: options.ca,
  });
  const repo = destination.repository;
  const scopes = [`repository:${repo}:pull,push`];
  const client = new RegistryClient({
    registry: destination.registry,
    ...routeOf(destination.registry, options),
    credentials: options.credentials,
    pool,
    signal: stop.signal,
    onRetry: message => emit({ kind: 'retry', message }),
    redactor,
    waitForQuotaUntil: options.deadline,
  });
  const { artifact } = options;
  const target = formatImageReference({ registry: destination.registry, repository: repo, tag });
  const reference = formatImageReference({ registry: destination.registry, repository: repo, digest: artifact.digest });
  let blobsPushed = 0;
  let blobsSkipped = 0;
  let bytesPushed = 0;
  const result = (complete: boolean, alreadyPresent: boolean): PushArtifactResult => ({
    complete, digest: artifact.digest, mediaType: artifact.mediaType, tag, reference, blobsPushed, blobsSkipped, bytesPushed, alreadyPresent,
  });
  try {
    const held = await client.headManifest(repo, tag, scopes);
    if (held?.digest === artifact.digest) {
      // Immutable repositories reject re-putting a tag even with the same digest: a match is success.
      blobsSkipped = artifact.blobs.size;
      emit({ kind: 'manifest', digest: artifact.digest, message: `${target} already holds ${artifact.digest}` });
      return result(true, true);
    }
    const transfer = new BlobTransfer({
      source: new MemoryBlobs(artifact.blobs),
      sourceRepository: repo,
      destination: client,
      destinationRepository: repo,
      scopes,
      mount: false,
      uploadMode: 'monolithic',
      chunkSize: DEFAULT_CHUNK,
      signal: stop.signal,
      checkStop: () => stop.check(),
      emit,
    });
    await mapLimit([...artifact.blobs], concurrency, async ([digest, bytes]) => {
      stop.check();
      if (await client.headBlob(repo, digest, scopes) !== undefined) {
        blobsSkipped++;
        emit({ kind: 'blob-skipped', digest, total: bytes.length, message: 'already at the destination' });
        return;
      }
      const outcome = await transfer.copy({ mediaType: 'application/octet-stream', digest, size: bytes.length });
      if (outcome === 'copied') {
        blobsPushed++;
        bytesPushed += bytes.length;
      } else {
        blobsSkipped++;
      }
    });
    for (const child of artifact.children ?? []) {
      stop.check();
      await client.putManifest(repo, child.digest, child.manifest, child.mediaType, scopes);
      emit({ kind: 'manifest', digest: child.digest, message: `${formatImageReference({ registry: destination.registry, repository: repo, digest: child.digest })}` });
    }
    stop.check();
    // The tag moves last, once every blob and manifest it names is there.
    await client.putManifest(repo, tag, artifact.manifest, artifact.mediaType, scopes);
    emit({ kind: 'tag', digest: artifact.digest, message: `${target} -> ${artifact.digest}` });
    return result(true, false);
  } catch (err) {
    if (err instanceof StoppedError) {
      return result(false, false);
    }
    const error = err instanceof CopyError ? err : new CopyError('REGISTRY', err instanceof Error ? err.message : String(err), { cause: err });
    throw redactor.error(error);
  } finally {
    stop.close();
    pool.close();
  }
}

/** The digests of the config and layers a manifest names. */
function namedBlobs(manifest: Buffer): string[] {
  let parsed: { config?: { digest?: unknown }; layers?: { digest?: unknown }[] };
  try {
    parsed = JSON.parse(manifest.toString('utf8'));
  } catch {
    throw new CopyError('INVALID', 'the artifact\'s manifest is not JSON');
  }
  return [parsed.config, ...(Array.isArray(parsed.layers) ? parsed.layers : [])]
    .map(d => d?.digest)
    .filter((d): d is string => typeof d === 'string');
}
