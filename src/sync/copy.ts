import { ImageReference, formatImageReference, isLoopbackHost } from '../image-reference';
import { CredentialSource } from './auth';
import { BeforeTag } from './before-tag';
import { BlobOutcome, BlobTransfer } from './blob-transfer';
import { mapLimit, runWeighted } from './concurrency';
import { CopyImageOptions, CopyPlan, CopyProgressEvent, CopyResult, planCopy } from './copy-options';
import { CopyError, StoppedError } from './errors';
import { HttpPool } from './http';
import { Descriptor } from './manifest-format';
import { ManifestTree, levelsBelowRoot, readManifestTree } from './manifest-tree';
import { Redactor } from './redact';
import { ReferrersResult } from './referrers';
import { RegistryClient } from './registry-client';
import { routeOf } from './registry-connection';
import { StopSignal } from './stop-signal';

export type { CopyImageOptions, CopyProgressEvent, CopyResult } from './copy-options';

/** What a result says of the image itself. */
type CopiedImage = Pick<CopyResult, 'digest' | 'sourceDigest' | 'mediaType' | 'size' | 'platforms'>;

const HEAD_FAN_OUT = 16;
/** Blobs below this size are bound by round trips, not bytes. */
const SMALL_BLOB = 1024 * 1024;
const SMALL_PER_SLOT = 4;

/**
 * Copies an image, index or artifact from one registry to another: byte for byte, children before
 * parents, the tag last, skipping what the destination has, streaming and verifying every blob.
 */
export async function copyImage(options: CopyImageOptions): Promise<CopyResult> {
  const copier = new Copier(options, planCopy(options));
  try {
    return await copier.run();
  } catch (err) {
    throw copier.scrub(err);
  } finally {
    copier.close();
  }
}

/**
 * Carries the source's referrers of an image the destination already holds as `digest`: the
 * image's manifests are read from the destination's own copy (the source's copy is never asked
 * for), and only the referrers are read from the source and written, as a copy writes them.
 * Undefined when the deadline (or the signal) stopped it; a referrer written before stays.
 */
export async function copyReferrersOf(options: CopyImageOptions, digest: string): Promise<ReferrersResult | undefined> {
  const copier = new Copier({ ...options, referrers: true }, planCopy(options));
  try {
    return await copier.referrersOf(digest);
  } catch (err) {
    if (err instanceof StoppedError) {
      return undefined;
    }
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
  private readonly source: ImageReference;
  private readonly destination: ImageReference;
  private readonly concurrency: number;
  private readonly beforeTag: BeforeTag;

  constructor(private readonly options: CopyImageOptions, private readonly plan: CopyPlan) {
    const { source, destination, concurrency } = plan;
    this.source = source;
    this.destination = destination;
    this.concurrency = concurrency;
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
      registry,
      ...routeOf(registry, options),
      credentials,
      pool: this.pool,
      signal: this.stop.signal,
      onRetry,
      redactor: this.redactor,
      // Within a deadline, a throttled request waits for the quota instead of failing the copy.
      waitForQuotaUntil: options.deadline,
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
      chunkSize: plan.chunkSize,
      signal: this.stop.signal,
      checkStop: () => this.stop.check(),
      emit: e => this.emit(e),
    });
    this.tag = destination.tag ?? source.tag ?? (source.digest ? undefined : 'latest');
    this.beforeTag = new BeforeTag({
      source: this.src,
      sourceImage: source,
      destination: this.dst,
      destinationImage: destination,
      destinationScopes: this.dstScopes,
      verification: plan.verification,
      referrers: options.referrers ?? false,
      maxReferrers: plan.maxReferrers,
      limits: plan.limits,
      writeBelowRoot: async t => {
        await this.copyBlobs([...t.blobs.values()]);
        await this.copyLevels(t);
      },
      checkStop: () => this.stop.check(),
      emit: e => this.emit(e),
    });
  }

  public async run(): Promise<CopyResult> {
    try {
      return await this.copy();
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
      ...(this.beforeTag.referrers ? { referrers: this.beforeTag.referrers } : {}),
      ...(this.beforeTag.signatures ? { signatures: this.beforeTag.signatures } : {}),
    };
  }

  /** The referrers of the image the destination holds as `digest`, its manifests read there. */
  public async referrersOf(digest: string): Promise<ReferrersResult> {
    const repository = this.destination.repository;
    const top = await this.dst.getManifest(repository, digest, this.dstScopes);
    if (!top) {
      const reference = `${this.destination.registry}/${repository}@${digest}`;
      throw new CopyError('NOT_FOUND', `${reference} does not exist; its referrers are carried only with the image`, {
        registry: this.destination.registry, reference, status: 404,
      });
    }
    const tree = await readManifestTree({ client: this.dst, repository, concurrency: this.concurrency, limits: this.plan.limits }, top, undefined);
    await this.beforeTag.carryReferrers(tree, tree.root.digest);
    return this.beforeTag.referrers!;
  }

  private async copy(): Promise<CopyResult> {
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
      client: this.src, repository: this.source.repository, concurrency: this.concurrency, limits: this.plan.limits,
    }, top, this.plan.platforms);
    const { root } = tree;
    const image: CopiedImage = {
      digest: root.digest, sourceDigest: top.digest, mediaType: root.mediaType, size: tree.size, platforms: root.platforms,
    };
    const result = (complete: boolean, alreadyPresent: boolean) => this.result(image, complete, alreadyPresent);
    // Before anything is written: an image the policy refuses leaves no trace at the destination.
    await this.beforeTag.verify(top.digest);

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
        await this.beforeTag.carryReferrers(tree, top.digest);
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
      await this.copyManifests(tree, top.digest);
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

  private async copyManifests(tree: ManifestTree, sourceDigest: string): Promise<void> {
    const repo = this.destination.repository;
    await this.copyLevels(tree);
    this.stop.check();
    await this.beforeTag.carryReferrers(tree, sourceDigest);
    const root = tree.root;
    if (this.tag) {
      // The tag moves last, in one request, once everything under it exists.
      await this.dst.putManifest(repo, this.tag, root.bytes, root.mediaType, this.dstScopes);
      this.manifestsCopied++;
      const moved = this.replacedDigest ? ` (moved from ${this.replacedDigest})` : '';
      this.emit({ kind: 'tag', digest: root.digest, message: `${this.destRef()} -> ${root.digest}${moved}` });
    } else {
      // Untagged copy: copy() found the root absent at the destination.
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
