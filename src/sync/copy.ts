import { ImageReference, formatImageReference, isLoopbackHost } from '../image-reference';
import { Platform, parsePlatform } from '../platform';
import { CredentialSource } from './auth';
import { BlobOutcome, BlobProgress, BlobTransfer, DEFAULT_CHUNK, MIN_CHUNK } from './blob-transfer';
import { mapLimit, runWeighted } from './concurrency';
import { CopyError, StoppedError } from './errors';
import { HttpPool } from './http';
import { Descriptor } from './manifest-format';
import { DEFAULT_MANIFEST_LIMITS, ManifestLimits, ManifestTree, levelsBelowRoot, readManifestTree } from './manifest-tree';
import { Redactor } from './redact';
import { ImageReferenceInput, engineReference } from './reference';
import { DEFAULT_MAX_REFERRERS, ReferrersResult, copyReferrers } from './referrers';
import { RegistryClient } from './registry-client';
import { RegistryRoutes, routeOf } from './registry-connection';
import { VerificationOutcome, unverifiedError, verifySignatures } from './signatures';
import { StopSignal } from './stop-signal';
import { TrustedKey, parseTrustedKey } from '../private/cosign-keys';

/** A progress notification; messages never contain credentials or control characters. */
export interface CopyProgressEvent {
  /** `plan`: the blobs to copy are known; `total` is their bytes, `message` says how many. */
  readonly kind: 'plan' | 'manifest' | 'blob-start' | 'blob-progress' | 'blob-done' | 'blob-skipped' | 'tag' | 'retry';
  readonly digest?: string;
  /** Bytes of this blob moved so far (blob-progress, blob-done). */
  readonly bytes?: number;
  /** Size of this blob; for `plan`, the bytes of all blobs to copy. */
  readonly total?: number;
  /** `plan`: how many blobs are to be copied. */
  readonly blobs?: number;
  readonly message?: string;
}

/**
 * What to copy and how. `dial` and `plainHttp` say where each registry is reached; the
 * references' registries still name the credentials, the scopes and every message.
 */
export interface CopyImageOptions extends RegistryRoutes {
  /** `host[:port]/repo[:tag][@digest]`, or parsed; the digest wins over the tag; neither means `latest`. */
  readonly source: ImageReferenceInput;
  /** `host[:port]/repo[:tag]`, or parsed; the tag defaults to the source's tag. */
  readonly destination: ImageReferenceInput;
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
  /** `monolithic` (POST + one PUT with the body, the default) or `chunked` (PATCH chunks). */
  readonly uploadMode?: 'monolithic' | 'chunked';
  /** Chunk size for chunked uploads, at least 5 MiB (ECR's minimum for all but the last chunk). Default 8 MiB. */
  readonly chunkSize?: number;
  /** Distinct manifests an image may have, the top one included (a refusal beyond: CopyError LIMIT). Default 256. */
  readonly maxManifests?: number;
  /** Index levels an image may nest below its top manifest. Default 4. */
  readonly maxManifestDepth?: number;
  /** Bytes of all of an image's distinct manifests together. Default 32 MiB. */
  readonly maxManifestBytes?: number;
  /** The size one blob's descriptor may declare. Default 10 GiB. */
  readonly maxBlobSize?: number;
  /**
   * The digest the source must have (`sha256:...`): when its tag names another image, the copy
   * fails with CopyError UNEXPECTED_DIGEST before writing anything. The check is made on the
   * manifest the copy then uses, so a tag moving during the copy cannot slip past it.
   * @default - any digest
   */
  readonly expectedSourceDigest?: string;
  /**
   * Every text the copy emits (progress, retries, errors) passes through it; it learns the
   * credentials and tokens the copy handles. Pass one to scrub the caller's own output with the
   * same secrets.
   * @default - a redactor of the copy's own
   */
  readonly redactor?: Redactor;
  /**
   * Also copy the referrers (signatures, SBOMs, attestations) of the image and of each copied
   * manifest: the OCI 1.1 referrers API, else the referrers tag schema, and cosign's
   * `sha256-<hex>.sig|.att|.sbom` tags. They are written before the tag moves.
   * @default false
   */
  readonly referrers?: boolean;
  /** Referrers one copy may carry (a refusal beyond: CopyError LIMIT). Default 64. */
  readonly maxReferrers?: number;
  /**
   * PEM public keys (ECDSA P-256, or RSA): the copy writes nothing unless a cosign signature of
   * the source digest verifies with one of them (a refusal: CopyError UNVERIFIED).
   * @default - no verification
   */
  readonly verifyKeys?: string[];
  /**
   * Refuse to move a destination tag that holds another digest (CopyError CONFLICT, nothing
   * written). Without it the tag moves and the result names the digest it held before.
   * @default false
   */
  readonly noClobber?: boolean;
  /**
   * Keep-alive connections shared with other copies (a sync of many images); the caller closes
   * it. It trusts what it was made with (`ca`, `insecureTls`, `lookup`): give the copy the same
   * routes.
   * @default - a pool of the copy's own, closed when it ends
   */
  readonly connections?: HttpPool;
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
  /** The digest the destination tag held before the copy moved it to another one. */
  readonly replacedDigest?: string;
  /** Blob bytes read from the source, every attempt and cut-short transfer included. */
  readonly bytesTransferred: number;
  /** Blobs the stop cut short (`complete: false`): their bytes are not kept, the next copy sends them whole. */
  readonly interrupted: BlobProgress[];
  /** What the referrers copy did (with `referrers: true`). */
  readonly referrers?: ReferrersResult;
  /** The signature that satisfied `verifyKeys`, and what else was found. */
  readonly signatures?: VerificationOutcome;
}

/** What a result says of the image itself. */
type CopiedImage = Pick<CopyResult, 'digest' | 'sourceDigest' | 'mediaType' | 'size' | 'platforms'>;

const DEFAULT_CONCURRENCY = 6;
const HEAD_FAN_OUT = 16;
/** Blobs below this size are bound by round trips, not bytes. */
const SMALL_BLOB = 1024 * 1024;
const SMALL_PER_SLOT = 4;

/**
 * Copies an image, index or artifact from one registry to another: byte for byte, children before
 * parents, the tag last, skipping what the destination has, streaming and verifying every blob.
 */
export async function copyImage(options: CopyImageOptions): Promise<CopyResult> {
  const source = engineReference(options.source, 'source');
  const destination = engineReference(options.destination, 'destination');
  if (destination.digest) {
    const text = typeof options.destination === 'string' ? options.destination : formatImageReference(destination);
    throw new CopyError('INVALID', `the destination ${JSON.stringify(text)} must not name a digest: the copy keeps the source's digest`);
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CopyError('INVALID', `concurrency ${JSON.stringify(concurrency)} is not allowed: an integer from 1 to 64`);
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK) {
    throw new CopyError('INVALID', `chunkSize ${JSON.stringify(chunkSize)} is not allowed: an integer of at least ${MIN_CHUNK} (5 MiB)`);
  }
  const limits: ManifestLimits = {
    maxManifests: options.maxManifests ?? DEFAULT_MANIFEST_LIMITS.maxManifests,
    maxManifestDepth: options.maxManifestDepth ?? DEFAULT_MANIFEST_LIMITS.maxManifestDepth,
    maxManifestBytes: options.maxManifestBytes ?? DEFAULT_MANIFEST_LIMITS.maxManifestBytes,
    maxBlobSize: options.maxBlobSize ?? DEFAULT_MANIFEST_LIMITS.maxBlobSize,
  };
  const maxReferrers = options.maxReferrers ?? DEFAULT_MAX_REFERRERS;
  for (const [name, value] of Object.entries({ ...limits, maxReferrers })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new CopyError('INVALID', `${name} ${JSON.stringify(value)} is not allowed: a positive integer`);
    }
  }
  const keys: TrustedKey[] = [];
  (options.verifyKeys ?? []).forEach((pem, i) => {
    const key = parseTrustedKey(pem);
    if (typeof key === 'string') {
      throw new CopyError('INVALID', `verifyKeys[${i}] ${key}`);
    }
    keys.push(key);
  });
  let platforms: Platform[] | undefined;
  try {
    platforms = options.platforms && options.platforms.length > 0 ? options.platforms.map(parsePlatform) : undefined;
  } catch (err) {
    throw new CopyError('INVALID', (err as Error).message);
  }
  const copier = new Copier(options, source, destination, concurrency, chunkSize, platforms, limits, keys);
  try {
    return await copier.run();
  } catch (err) {
    throw copier.scrub(err);
  } finally {
    copier.close();
  }
}

/** One copy: reads the source's manifest tree, then writes blobs, manifests and the tag in that order. */
class Copier {
  private readonly redactor: Redactor;
  private readonly stop: StopSignal;
  private readonly pool: HttpPool;
  private readonly src: RegistryClient;
  private readonly dst: RegistryClient;
  private readonly dstScopes: string[];
  private readonly blobs: BlobTransfer;
  private readonly tag?: string;
  private bytesCopied = 0;
  private blobsCopied = 0;
  private blobsSkipped = 0;
  private blobsMounted = 0;
  private manifestsCopied = 0;
  private manifestsSkipped = 0;
  private replacedDigest?: string;
  private referrers?: ReferrersResult;
  private signatures?: VerificationOutcome;

  constructor(
    private readonly options: CopyImageOptions,
    private readonly source: ImageReference,
    private readonly destination: ImageReference,
    private readonly concurrency: number,
    chunkSize: number,
    private readonly platforms: Platform[] | undefined,
    private readonly limits: ManifestLimits,
    private readonly keys: TrustedKey[],
  ) {
    this.redactor = options.redactor ?? new Redactor();
    this.stop = new StopSignal(options.deadline, options.signal);
    // Every parallel blob holds a source GET and a destination PUT, plus HEADs and token fetches.
    this.pool = options.connections ?? new HttpPool({
      maxSockets: Math.max(concurrency * SMALL_PER_SLOT * 2 + 4, HEAD_FAN_OUT + 4),
      plainHttp: options.plainHttp ?? isLoopbackHost,
      lookup: options.lookup,
      ca: options.ca,
      insecureTls: options.insecureTls,
    });
    const onRetry = (message: string) => this.emit({ kind: 'retry', message });
    const client = (registry: string, credentials: CredentialSource | undefined) => new RegistryClient({
      registry, ...routeOf(registry, options), credentials, pool: this.pool, signal: this.stop.signal, onRetry, redactor: this.redactor,
    });
    this.src = client(source.registry, options.sourceCredentials);
    this.dst = client(destination.registry, options.destinationCredentials);
    const crossRepository = source.registry === destination.registry && source.repository !== destination.repository;
    // One scope set for every destination request: one token serves the whole copy (and mounts).
    this.dstScopes = [`repository:${destination.repository}:pull,push`];
    if (crossRepository) {
      this.dstScopes.push(`repository:${source.repository}:pull`);
    }
    this.blobs = new BlobTransfer({
      source: this.src,
      sourceRepository: source.repository,
      destination: this.dst,
      destinationRepository: destination.repository,
      scopes: this.dstScopes,
      mount: crossRepository,
      uploadMode: options.uploadMode ?? 'monolithic',
      chunkSize,
      signal: this.stop.signal,
      checkStop: () => this.stop.check(),
      emit: e => this.emit(e),
    });
    this.tag = destination.tag ?? source.tag ?? (source.digest ? undefined : 'latest');
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

  /** The error as it leaves the engine: a CopyError, through the redactor. */
  public scrub(err: unknown): unknown {
    if (err instanceof StoppedError) {
      return err;
    }
    const error = err instanceof CopyError ? err : new CopyError('REGISTRY', err instanceof Error ? err.message : String(err), { cause: err });
    return this.redactor.error(error);
  }

  public close(): void {
    this.stop.close();
    if (!this.options.connections) {
      this.pool.close();
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
      ...(this.replacedDigest ? { replacedDigest: this.replacedDigest } : {}),
      bytesTransferred: this.blobs.bytesTransferred,
      interrupted: complete ? [] : this.blobs.unfinished(),
      ...(this.referrers ? { referrers: this.referrers } : {}),
      ...(this.signatures ? { signatures: this.signatures } : {}),
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
    checkExpectedDigest(this.options.expectedSourceDigest, top.digest, this.source);
    const tree = await readManifestTree({
      client: this.src, repository: this.source.repository, concurrency: this.concurrency, limits: this.limits,
    }, top, this.platforms);
    const { root } = tree;
    const image: CopiedImage = {
      digest: root.digest, sourceDigest: top.digest, mediaType: root.mediaType, size: tree.size, platforms: root.platforms,
    };
    const result = (complete: boolean, alreadyPresent: boolean) => this.result(image, complete, alreadyPresent);
    if (this.keys.length > 0) {
      // Before anything is written: an image the policy refuses leaves no trace at the destination.
      this.signatures = await verifySignatures({ client: this.src, repository: this.source.repository }, top.digest, this.keys);
      if (!this.signatures.verified) {
        throw unverifiedError(`${this.source.registry}/${this.source.repository}@${top.digest}`, this.signatures, this.source.registry);
      }
      this.emit({ kind: 'manifest', digest: top.digest, message: `signature ${this.signatures.signature!.manifest} verified with ${this.signatures.signature!.key}` });
    }

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
      this.blobsSkipped = tree.blobs.size;
      this.manifestsSkipped = tree.manifests.length;
      this.emit({ kind: 'manifest', digest: root.digest, message: `${this.destRef()} already holds ${root.digest}` });
      try {
        // Signatures may have been added since the image was copied: they still travel.
        await this.copyReferrers(tree);
      } catch (err) {
        if (err instanceof StoppedError) {
          return result(false, true);
        }
        throw err;
      }
      return result(true, true);
    }
    if (this.tag && present) {
      this.checkClobber(present.digest, root.digest);
    }

    try {
      await this.copyBlobs([...tree.blobs.values()]);
      await this.copyManifests(tree);
    } catch (err) {
      if (err instanceof StoppedError) {
        return result(false, false);
      }
      throw err;
    }
    return result(true, false);
  }

  private async copyBlobs(blobs: Descriptor[]): Promise<void> {
    // Largest first: the long transfers start early and the small ones fill the gaps.
    const order = [...blobs].sort((a, b) => b.size - a.size);
    // Existence checks are small requests: run them all up front, wider than the transfers, so
    // that a re-sync costs one round of HEADs and each transfer starts without one.
    const present = await mapLimit(order, HEAD_FAN_OUT, async d => {
      this.stop.check();
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
    const total = missing.reduce((n, d) => n + d.size, 0);
    this.emit({ kind: 'plan', blobs: missing.length, total, message: `${missing.length} blobs to copy, ${blobs.length - missing.length} already there` });
    // Small blobs cost requests, not bandwidth: four of them run in the slot of one large blob.
    await runWeighted(missing, this.concurrency * SMALL_PER_SLOT, d => (d.size < SMALL_BLOB ? 1 : SMALL_PER_SLOT), async d => {
      this.count(await this.blobs.copy(d), d);
    });
  }

  private count(outcome: BlobOutcome, d: Descriptor): void {
    if (outcome === 'copied') {
      this.blobsCopied++;
      this.bytesCopied += d.size;
    } else if (outcome === 'mounted') {
      this.blobsMounted++;
    } else {
      this.blobsSkipped++;
    }
  }

  private async copyManifests(tree: ManifestTree): Promise<void> {
    const repo = this.destination.repository;
    await this.copyLevels(tree);
    this.stop.check();
    await this.copyReferrers(tree);
    const root = tree.root;
    if (this.tag) {
      // The tag moves last, in one request, once everything under it exists.
      await this.dst.putManifest(repo, this.tag, root.bytes, root.mediaType, this.dstScopes);
      this.manifestsCopied++;
      const moved = this.replacedDigest ? ` (moved from ${this.replacedDigest})` : '';
      this.emit({ kind: 'tag', digest: root.digest, message: `${this.destRef()} -> ${root.digest}${moved}` });
    } else {
      // Untagged copy: plan() found the root absent at the destination.
      await this.dst.putManifest(repo, root.digest, root.bytes, root.mediaType, this.dstScopes);
      this.manifestsCopied++;
      this.emit({ kind: 'manifest', digest: root.digest, message: `put ${root.mediaType}` });
    }
  }

  /** The manifests below a tree's root, lowest level first, skipping what the destination has. */
  private async copyLevels(tree: ManifestTree): Promise<void> {
    const repo = this.destination.repository;
    for (const level of levelsBelowRoot(tree)) {
      await mapLimit(level, this.concurrency, async m => {
        this.stop.check();
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
  }

  /** With `referrers`, the referrers of every manifest of the image travel before its tag moves (see referrers.ts). */
  private async copyReferrers(tree: ManifestTree): Promise<void> {
    if (!this.options.referrers) {
      return;
    }
    this.referrers = await copyReferrers({
      source: this.src,
      sourceRepository: this.source.repository,
      destination: this.dst,
      destinationRepository: this.destination.repository,
      destinationScopes: this.dstScopes,
      limits: this.limits,
      maxReferrers: this.options.maxReferrers ?? DEFAULT_MAX_REFERRERS,
      writeBelowRoot: async t => {
        await this.copyBlobs([...t.blobs.values()]);
        await this.copyLevels(t);
      },
      checkStop: () => this.stop.check(),
      emit: e => this.emit(e),
    }, tree.manifests.map(m => m.digest));
  }

  /** The tag holds another digest: refused with `noClobber`, else remembered for the result. */
  private checkClobber(held: string, incoming: string): void {
    if (this.options.noClobber) {
      throw new CopyError('CONFLICT',
        `${this.destRef()} holds ${held}, not ${incoming}; refusing to move the tag (no-clobber). Copy to another tag, or drop no-clobber to move it`,
        { registry: this.destination.registry, reference: this.destRef() });
    }
    this.replacedDigest = held;
  }

  private destRef(): string {
    return formatImageReference({ registry: this.destination.registry, repository: this.destination.repository, tag: this.tag });
  }

  private emit(event: CopyProgressEvent): void {
    if (!this.options.onProgress) {
      return;
    }
    try {
      this.options.onProgress(this.redactor.event(event));
    } catch {
      // A failing progress callback must not break the copy.
    }
  }
}

/** Refuses a source whose top manifest is not the expected one, before anything is written. */
function checkExpectedDigest(expected: string | undefined, actual: string, source: ImageReference): void {
  if (expected === undefined || expected === actual) {
    return;
  }
  const reference = formatImageReference(source);
  throw new CopyError('UNEXPECTED_DIGEST', `${reference} is ${actual}, not the expected ${expected}; nothing was written`, {
    registry: source.registry, reference,
  });
}
