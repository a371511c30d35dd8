/**
 * What a copy takes and gives: the options, the result and the progress events of `copyImage`,
 * and the one place the options are checked and given their defaults.
 */
import { ImageReference, formatImageReference } from '../image-reference';
import { Platform, parsePlatform } from '../platform';
import { CredentialSource } from './auth';
import { BlobProgress, DEFAULT_CHUNK, MIN_CHUNK } from './blob-transfer';
import { CopyError } from './errors';
import { HttpPool } from './http';
import { DEFAULT_MANIFEST_LIMITS, ManifestLimits } from './manifest-tree';
import { Redactor } from './redact';
import { ImageReferenceInput, engineReference } from './reference';
import { DEFAULT_MAX_REFERRERS, ReferrersResult } from './referrers';
import { RegistryRoutes } from './registry-connection';
import { VerificationOutcome, VerificationPolicy } from './signatures';
import type { BundleVerifierFactory } from './sigstore-verify';
import { TrustedKey, parseTrustedKey } from '../private/cosign-keys';
import { SigstoreIdentity, identityProblem, trustedRootProblem } from '../private/sigstore-policy';

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
  /**
   * Epoch ms: stop cleanly before it with `complete: false` (the tag is not moved). Until then, a
   * request the registry throttles (HTTP 429) waits for the quota beyond its attempts.
   */
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
  /** Distinct blobs (configs and layers) an image may have, all its manifests together. Default 4096. */
  readonly maxBlobs?: number;
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
   * Sigstore identities (OIDC issuer, and the subject exactly or by a pattern): the copy writes
   * nothing unless a signature satisfies the policy, a key signature with one of `verifyKeys` or
   * a Sigstore bundle (cosign v3's default) signed by one of these, verified against
   * `trustedRoot`. Needs `bundleVerifier`.
   * @default - no identities
   */
  readonly verifyIdentities?: SigstoreIdentity[];
  /**
   * A Sigstore trusted root (JSON: Fulcio CAs, Rekor logs, CT logs, timestamp authorities) that
   * bundles verify against.
   * @default - the Sigstore public-good trusted root pinned in the package
   */
  readonly trustedRoot?: string;
  /**
   * Loads the bundle verifier (sigstore-verify.ts `createBundleVerifier`), called the first time
   * a bundle is examined: the engine itself does not carry it.
   * @default - bundles are reported, not verified; `verifyIdentities` is refused
   */
  readonly bundleVerifier?: () => BundleVerifierFactory;
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


const DEFAULT_CONCURRENCY = 6;

/** A copy's options, checked and with their defaults. */
export interface CopyPlan {
  readonly source: ImageReference;
  readonly destination: ImageReference;
  readonly concurrency: number;
  readonly chunkSize: number;
  readonly limits: ManifestLimits;
  readonly maxReferrers: number;
  /** The verification policy; no keys and no identities: no verification. */
  readonly verification: VerificationPolicy;
  /** The platforms to copy from an index; undefined: all. */
  readonly platforms?: Platform[];
}

/** Checks a copy's options before any request: a refusal is CopyError INVALID naming the option and the value. */
export function planCopy(options: CopyImageOptions): CopyPlan {
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
    maxBlobs: options.maxBlobs ?? DEFAULT_MANIFEST_LIMITS.maxBlobs,
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
  const identities = (options.verifyIdentities ?? []).map((identity, i) => {
    const problem = identityProblem(identity);
    if (problem) {
      throw new CopyError('INVALID', `verifyIdentities[${i}] ${problem}`);
    }
    return identity;
  });
  if (options.trustedRoot !== undefined) {
    const problem = trustedRootProblem(options.trustedRoot);
    if (problem) {
      throw new CopyError('INVALID', `trustedRoot ${problem}`);
    }
  }
  if (identities.length > 0 && !options.bundleVerifier) {
    throw new CopyError('INVALID', 'verifyIdentities needs bundleVerifier: Sigstore bundles cannot be verified without it');
  }
  const verification: VerificationPolicy = {
    keys, identities, trustedRoot: options.trustedRoot, loadBundleVerifier: options.bundleVerifier,
  };
  let platforms: Platform[] | undefined;
  try {
    platforms = options.platforms && options.platforms.length > 0 ? options.platforms.map(parsePlatform) : undefined;
  } catch (err) {
    throw new CopyError('INVALID', (err as Error).message);
  }
  return { source, destination, concurrency, chunkSize, limits, maxReferrers, verification, platforms };
}
