/**
 * What a copy does besides the image itself, always before its tag moves: the verification of
 * the source's signatures, before anything is written, and the referrers (signatures, SBOMs,
 * attestations) carried with the image, after its manifests and before its tag.
 */
import { ImageReference } from '../image-reference';
import type { CopyProgressEvent } from './copy-options';
import { ManifestLimits, ManifestTree } from './manifest-tree';
import { ReferrersResult, copyReferrers, countReferrers } from './referrers';
import { RegistryClient } from './registry-client';
import { VerificationOutcome, VerificationPolicy, unverifiedError, verifySignatures } from './signatures';

export interface BeforeTagOptions {
  readonly source: RegistryClient;
  readonly sourceImage: ImageReference;
  readonly destination: RegistryClient;
  readonly destinationImage: ImageReference;
  readonly destinationScopes: string[];
  /** The verification policy; no keys and no identities: no verification. */
  readonly verification: VerificationPolicy;
  /** Carry the referrers. */
  readonly referrers: boolean;
  readonly maxReferrers: number;
  readonly limits: ManifestLimits;
  /** Writes a referrer's blobs and the manifests below its root, as the image's are written. */
  readonly writeBelowRoot: (tree: ManifestTree) => Promise<void>;
  readonly checkStop: () => void;
  readonly emit: (event: CopyProgressEvent) => void;
}

/** The stage between reading the source and moving the destination tag. */
export class BeforeTag {
  /** What the verification found (with keys). */
  public signatures?: VerificationOutcome;
  /** What the referrers copy did (with `referrers`). */
  public referrers?: ReferrersResult;

  constructor(private readonly options: BeforeTagOptions) {}

  /**
   * Refuses (CopyError UNVERIFIED) a source digest that no signature vouches for as the policy
   * requires. Called before anything is written: an image the policy refuses leaves no trace.
   */
  public async verify(digest: string): Promise<void> {
    const { verification, source, sourceImage } = this.options;
    if (verification.keys.length === 0 && verification.identities.length === 0) {
      return;
    }
    this.signatures = await verifySignatures({ client: source, repository: sourceImage.repository }, digest, verification);
    if (!this.signatures.verified) {
      throw unverifiedError(`${sourceImage.registry}/${sourceImage.repository}@${digest}`, this.signatures, sourceImage.registry);
    }
    const { manifest, key } = this.signatures.signature!;
    this.options.emit({ kind: 'manifest', digest, message: `signature ${manifest} verified: ${key}` });
  }

  /**
   * The referrers of every manifest of the image, written to the destination (see referrers.ts).
   * A platform subset (a root other than `sourceDigest`) leaves the source index's behind: they
   * are counted for the result.
   */
  public async carryReferrers(tree: ManifestTree, sourceDigest: string): Promise<void> {
    const o = this.options;
    if (!o.referrers) {
      return;
    }
    this.referrers = await copyReferrers({
      source: o.source,
      sourceRepository: o.sourceImage.repository,
      destination: o.destination,
      destinationRepository: o.destinationImage.repository,
      destinationScopes: o.destinationScopes,
      limits: o.limits,
      maxReferrers: o.maxReferrers,
      writeBelowRoot: o.writeBelowRoot,
      checkStop: o.checkStop,
      emit: o.emit,
    }, tree.manifests.map(m => m.digest));
    if (sourceDigest !== tree.root.digest) {
      const referrers = await countReferrers(o.source, o.sourceImage.repository, sourceDigest, o.maxReferrers);
      this.referrers = { ...this.referrers, indexLeftBehind: { digest: sourceDigest, referrers } };
      o.emit({ kind: 'manifest', digest: sourceDigest, message: `${referrers} referrers of the source index not carried: they sign the whole index, not the platform subset` });
    }
  }
}
