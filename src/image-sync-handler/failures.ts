/**
 * Failure reasons for CloudFormation: what failed, on which image, and what to do, built from the
 * engine's and AWS's errors. They never contain credentials or the external id.
 */
import { BlobProgress, CopyError, CopyResult } from '../sync';
import { SyncRequest, destinationName, sourceName } from './request';

/** A failure worth another attempt on the next poll, within the handler's retry window. */
export class TransientFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientFailure';
  }
}

const TRANSIENT_STS_ERROR = /Throttl|TooManyRequests|ServiceUnavailable|InternalError|Timeout|ECONNRESET|ETIMEDOUT|EAI_AGAIN/i;

// ECR answers a PUT of an existing immutable tag with TAG_INVALID "... cannot be overwritten because ... immutable".
const IMMUTABLE_TAG = /TAG_INVALID|cannot be overwritten because the (repository|tag) is immutable/i;
/** A manifest PUT to one of the signature tags (cosign's, the referrers tag schema's) that travel with an image. */
const SIGNATURE_TAG = /manifest [^ ]+:sha256-[0-9a-f]{64}\b/;

const ADVICE: { [code: string]: string } = {
  NOT_FOUND: 'Check the source repository, tag or digest (was the release pushed?) and that the destination repository exists.',
  UNAUTHORIZED: 'The registry rejected the credentials: check the access role, the registry secret or the function\'s ECR permissions.',
  DENIED: 'The registry denied the operation: check the repository policies (the install repository lets only its writers push) and the function\'s grants.',
  DIGEST_MISMATCH: 'The bytes received do not match their digest: the image in the source is corrupt or was changed during the copy; push it again.',
  INVALID: 'Check the image reference and the platforms requested.',
  UNSUPPORTED: 'The image uses a format the copy does not support (e.g. Docker schema 1): rebuild or convert it to OCI or Docker schema 2.',
  NETWORK: 'The registry could not be reached: in a VPC, add endpoints for ECR (api, dkr), S3 and STS, or a NAT gateway; then deploy again.',
  REGISTRY: 'The registry answered with an error: deploy again later; if it persists, check the registry\'s status.',
  REFUSED: 'A registry asked for something the copy never does (credentials for another host, plain HTTP, a local address): check the registry and its redirects; a registry that keeps asking is misconfigured or hostile.',
  UNEXPECTED_DIGEST: 'The source tag has moved since the release was pinned: vet the image it names now, then set the expected digest to it (or name the image by digest); no tag was written.',
  LIMIT: 'The image exceeds a cap the copy keeps against hostile registries: check that the source is the image you meant; copy a genuine image this large with the command-line copy.',
  UNVERIFIED: 'The ImageSync verification policy refused the image and no tag was written: have the vendor sign this digest with a trusted key, or update the policy\'s keys.',
};

/** The failure reason for a copy error: what failed, on which image, and what to do. */
export function copyFailure(e: unknown, request: SyncRequest): Error {
  const what = `Copying ${sourceName(request)} to ${destinationName(request)} failed`;
  if (!(e instanceof CopyError)) {
    return new Error(`${what}: ${(e as Error)?.message ?? String(e)}`);
  }
  if (IMMUTABLE_TAG.test(e.message) && SIGNATURE_TAG.test(e.message)) {
    return new Error(
      `${what}: ${e.message} The repository keeps the signature tags (sha256-*) immutable, so a signature or attestation `
      + 'added to the release since it was first copied cannot follow it: keep them mutable (mutableSignatureTags, the default '
      + 'of InstallRepository, or sha256-* in mutableTagPatterns), or turn copyReferrers off.',
    );
  }
  if (IMMUTABLE_TAG.test(e.message)) {
    return new Error(
      `${what}: ${e.message} The destination tag ${request.destination.tag} already holds a different image and the ` +
      'repository\'s tags are immutable: release under a new tag (the ImageSync tag prop), or make this tag pattern mutable.',
    );
  }
  return new Error(`${what}: ${e.message} ${ADVICE[e.code] ?? ''}`.trim());
}

/**
 * A copy failure as the handler raises it: only outages are worth another poll; a corrupt blob or
 * a refused credential was already retried by the engine and would fail the same way again.
 */
export function copyAttemptFailure(e: unknown, request: SyncRequest): Error {
  const failure = copyFailure(e, request);
  const outage = e instanceof CopyError && e.retryable && (e.code === 'NETWORK' || e.code === 'REGISTRY');
  return outage ? new TransientFailure(failure.message) : failure;
}

/** The failure reason when the pull session cannot be had: denied (fix the trust), or STS unreachable (try again). */
export function assumeRoleFailure(e: unknown, request: SyncRequest): Error {
  const cause = (e as { cause?: { name?: string } })?.cause;
  const name = cause?.name ?? (e as { name?: string })?.name ?? '';
  if (/AccessDenied/.test(name) || (e instanceof CopyError && e.code === 'DENIED')) {
    return new Error(
      `Access denied assuming role ${request.accessRoleArn} to pull ${sourceName(request)}: ${awsErrorText(e)}. ` +
      'Check that the access role trusts this stack\'s sync function role, that the external id matches ' +
      'the one in its trust policy (and that it allows sts:TagSession when a release id is set), and that the role may pull from the repository.',
    );
  }
  const message = `Could not assume role ${request.accessRoleArn} to pull ${sourceName(request)}: ${awsErrorText(e)}. ` +
    'If STS was unreachable or throttled, deploy again; in a VPC without a NAT gateway, add an STS interface endpoint.';
  return TRANSIENT_STS_ERROR.test(name) ? new TransientFailure(message) : new Error(message);
}

/** The failure reason once a Create or Update has spent its time budget. */
export function budgetExhausted(request: SyncRequest, last: CopyResult | undefined): Error {
  const progress = last
    ? ` (the last attempt copied ${last.blobsCopied} blobs, ${last.bytesCopied} bytes, of an image of ${last.size} bytes)`
    : '';
  return new Error(
    `Time budget exhausted: copying ${sourceName(request)} to ${destinationName(request)} ` +
    `did not finish within ${request.totalTimeoutSeconds} seconds${progress}. The tag was not moved. ` +
    'Deploy again to resume (blobs already copied are skipped), give the ImageSync a larger totalTimeout or its ImageSyncProvider a larger memorySize, ' +
    'or pre-seed the image with the command-line copy.',
  );
}

/**
 * The failure reason when one layer cannot be copied within a single invocation: more time across
 * polls does not help, since a layer cut short starts over.
 */
export function layerTooLarge(request: SyncRequest, layer: BlobProgress, bytesPerSecond: number, needsSeconds: number, windowSeconds: number): Error {
  const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
  return new Error(
    `Layer ${layer.digest} of ${sourceName(request)} (${mib(layer.size)} MiB) cannot be copied within one invocation of the sync function: ` +
    `at the ${mib(bytesPerSecond)} MiB/s this invocation reached it needs about ${Math.ceil(needsSeconds)} seconds, and an invocation ` +
    `has ${Math.floor(windowSeconds)} seconds to copy; a layer cut short starts over on the next poll, so waiting longer does not help. ` +
    `Pre-seed the destination with the command-line copy (cdk-byoc-artifacts copy ${sourceName(request)} ${destinationName(request)}) ` +
    'from a machine with a faster link and deploy again (the sync then finds the image in place), or give the function a faster path ' +
    'to the source (more memorySize, VPC endpoints, the same region).',
  );
}

/** `Name: message` of an AWS or engine error, without the generic names. */
export function awsErrorText(e: unknown): string {
  const err = e as { name?: string; message?: string };
  const name = err?.name && err.name !== 'Error' && err.name !== 'CopyError' ? `${err.name}: ` : '';
  return `${name}${err?.message ?? String(e)}`;
}
