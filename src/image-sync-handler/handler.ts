import { BatchDeleteImageCommand, DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { STSClient } from '@aws-sdk/client-sts';
import { formatImageReference, parseImageReference } from '../image-reference';
import { Attributes } from '../image-sync-contract';
import {
  assumePullSession,
  copyImage,
  CopyError,
  CopyProgressEvent,
  CopyResult,
  CredentialSource,
  ecrCredentialSource,
  parseEcrRegistry,
} from '../sync';
import { parsePhysicalId, parseSyncRequest, physicalId, SyncRequest } from './properties';

/** The credentials of an assumed session, as the AWS SDK takes them. */
export type SessionCredentials = Awaited<ReturnType<typeof assumePullSession>>;

/** What the handler talks to. The Lambda passes real clients; tests and the demo pass mocks and loopback registries. */
export interface HandlerDependencies {
  /** STS, for the pull session in the tenant account. */
  readonly sts: STSClient;
  /** Reads a Secrets Manager secret's string value (registry credentials). */
  readonly readSecret: (secretId: string) => Promise<string | undefined>;
  /** Makes an ECR client for a region, with the given credentials or the function's own. */
  readonly ecr: (region: string, credentials?: SessionCredentials) => ECRClient;
  /** The function's region: where ECR calls go when a registry host names no region. */
  readonly region: string;
  /**
   * Where to dial a registry: maps the host named in the properties to the one to connect to.
   * Tests and the demo point ECR hosts at loopback registries with it.
   * @default - the host itself
   */
  readonly endpoint?: (registry: string) => string;
  /** Registries (dialled hosts) spoken to over plain HTTP. @default - loopback hosts only */
  readonly plainHttp?: (registry: string) => boolean;
  /** Parallel blob copies. @default - the engine's default */
  readonly concurrency?: number;
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /** Structured log lines. @default - JSON lines on stdout */
  readonly log?: (message: string, fields?: { [key: string]: unknown }) => void;
  /** Copy progress, for the demo. @default - none */
  readonly onProgress?: (event: CopyProgressEvent) => void;
}

/** The CloudFormation custom resource event, as the provider framework forwards it. */
export interface ImageSyncEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly RequestId?: string;
  readonly StackId?: string;
  readonly LogicalResourceId?: string;
  readonly ResourceType?: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: { [key: string]: unknown };
  readonly OldResourceProperties?: { [key: string]: unknown };
  readonly ResponseURL?: string;
  /** Set by `onEvent` for the `isComplete` phase (the framework merges onEvent's answer into the event). */
  readonly [PHASE_KEY]?: string;
  /** Epoch ms after which a Create or Update fails with "time budget exhausted". */
  readonly [BUDGET_KEY]?: number;
  /** Epoch ms when `onEvent` started the Create or Update. */
  readonly [STARTED_KEY]?: number;
  readonly [key: string]: unknown;
}

/** What `onEvent` answers. */
export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly [PHASE_KEY]: string;
  readonly [BUDGET_KEY]?: number;
  readonly [STARTED_KEY]?: number;
}

/** What `isComplete` answers. */
export interface IsCompleteResponse {
  readonly IsComplete: boolean;
  readonly PhysicalResourceId?: string;
  readonly Data?: { [key: string]: string };
}

/** Marks the event `onEvent` hands to `isComplete`: one function serves both phases. */
export const PHASE_KEY = 'ImageSyncPhase';
export const BUDGET_KEY = 'ImageSyncBudgetEndsAt';
export const STARTED_KEY = 'ImageSyncStartedAt';
const IS_COMPLETE_PHASE = 'isComplete';

// Stop copying this long before the function's own timeout, so the answer gets back to the framework.
const INVOCATION_MARGIN_MS = 45_000;
// A failure that may pass (a registry's 5xx or 429 outlasting the engine's own retries, STS
// throttling) is tried again on the next poll, for this long after the request started; then it
// fails the resource. A misconfiguration (no route, no endpoint) thus fails within minutes, not an hour.
const TRANSIENT_RETRY_WINDOW_MS = 10 * 60_000;
// Fail with a clear reason this long before CloudFormation would time the resource out on its own.
const BUDGET_MARGIN_MS = 90_000;
const PULL_SESSION_SECONDS = 900;

/**
 * One entry point for both provider phases: `onEvent` (the CloudFormation event) and
 * `isComplete` (the same event plus what `onEvent` answered).
 *
 * @param remainingTimeMs the invocation's remaining time (the Lambda context's)
 */
export async function handleEvent(
  event: ImageSyncEvent,
  deps: HandlerDependencies,
  remainingTimeMs: () => number,
): Promise<OnEventResponse | IsCompleteResponse> {
  const log = deps.log ?? defaultLog;
  log(event[PHASE_KEY] === IS_COMPLETE_PHASE ? 'isComplete' : 'onEvent', describeEvent(event));
  if (event[PHASE_KEY] === IS_COMPLETE_PHASE) {
    return isComplete(event, deps, remainingTimeMs);
  }
  return onEvent(event, deps);
}

/**
 * Create/Update: check the properties and start the clock; the copy runs in `isComplete`.
 * Delete: keep the image, or remove the tag when opted in and it still points at our digest.
 */
export async function onEvent(event: ImageSyncEvent, deps: HandlerDependencies): Promise<OnEventResponse> {
  const now = (deps.now ?? Date.now)();
  switch (event.RequestType) {
    case 'Create':
    case 'Update': {
      const request = parseSyncRequest(event.ResourceProperties);
      const pending = event.RequestType === 'Update' && event.PhysicalResourceId
        ? event.PhysicalResourceId
        : physicalId(request.destinationRepositoryUri, request.destinationTag);
      return {
        PhysicalResourceId: pending,
        [PHASE_KEY]: IS_COMPLETE_PHASE,
        [BUDGET_KEY]: now + Math.max(request.totalTimeoutSeconds * 1000 - BUDGET_MARGIN_MS, 60_000),
        [STARTED_KEY]: now,
      };
    }
    case 'Delete':
      await removeOnDelete(event, deps);
      return { PhysicalResourceId: event.PhysicalResourceId!, [PHASE_KEY]: IS_COMPLETE_PHASE };
    default:
      throw new Error(`Unsupported request type ${JSON.stringify((event as ImageSyncEvent).RequestType)}`);
  }
}

/**
 * Runs (or resumes) the copy until the invocation's time is nearly up. Answers `IsComplete: false`
 * to be called again (blobs already copied are skipped), and fails once the budget is spent.
 */
export async function isComplete(
  event: ImageSyncEvent,
  deps: HandlerDependencies,
  remainingTimeMs: () => number,
): Promise<IsCompleteResponse> {
  if (event.RequestType === 'Delete') {
    return { IsComplete: true };
  }
  const clock = deps.now ?? Date.now;
  const log = deps.log ?? defaultLog;
  const request = parseSyncRequest(event.ResourceProperties);
  const budgetEndsAt = typeof event[BUDGET_KEY] === 'number' ? event[BUDGET_KEY] : Number.POSITIVE_INFINITY;
  const started = clock();
  if (started >= budgetEndsAt) {
    throw budgetExhausted(request, undefined);
  }
  const deadline = Math.min(started + remainingTimeMs() - INVOCATION_MARGIN_MS, budgetEndsAt);

  let result: CopyResult | undefined;
  try {
    result = await copy(event, request, deps, deadline);
  } catch (e) {
    const startedAt = typeof event[STARTED_KEY] === 'number' ? event[STARTED_KEY] : started;
    const now = clock();
    if (e instanceof TransientFailure && now - startedAt < TRANSIENT_RETRY_WINDOW_MS && now < budgetEndsAt) {
      log('transient failure, will retry on the next poll', { reason: e.message });
      return { IsComplete: false };
    }
    throw e;
  }
  if (!result) {
    // Stopped before the copy was even planned (the deadline came during the first requests).
    log('copy stopped at the deadline before it was planned, will resume', { source: request.sourceImage });
    if (clock() >= budgetEndsAt) {
      throw budgetExhausted(request, undefined);
    }
    return { IsComplete: false };
  }
  log(result.complete ? 'copy complete' : 'copy stopped at the deadline, will resume', {
    source: request.sourceImage,
    destination: `${request.destinationRepositoryUri}:${request.destinationTag}`,
    digest: result.digest,
    alreadyPresent: result.alreadyPresent,
    bytesCopied: result.bytesCopied,
    blobsCopied: result.blobsCopied,
    blobsSkipped: result.blobsSkipped,
    seconds: (clock() - started) / 1000,
  });
  if (!result.complete) {
    if (clock() >= budgetEndsAt) {
      throw budgetExhausted(request, result);
    }
    return { IsComplete: false };
  }
  return {
    IsComplete: true,
    PhysicalResourceId: physicalId(request.destinationRepositoryUri, request.destinationTag, result.digest),
    Data: {
      [Attributes.IMAGE_DIGEST]: result.digest,
      [Attributes.IMAGE_URI]: `${request.destinationRepositoryUri}@${result.digest}`,
      [Attributes.IMAGE_TAG]: request.destinationTag,
      [Attributes.REPOSITORY_URI]: request.destinationRepositoryUri,
      [Attributes.MEDIA_TYPE]: result.mediaType,
      [Attributes.BYTES_COPIED]: String(result.bytesCopied),
      [Attributes.BLOBS_COPIED]: String(result.blobsCopied),
      [Attributes.BLOBS_SKIPPED]: String(result.blobsSkipped),
    },
  };
}

/** Runs the copy; undefined when the deadline stopped it before it knew what to copy. */
async function copy(event: ImageSyncEvent, request: SyncRequest, deps: HandlerDependencies, deadline: number): Promise<CopyResult | undefined> {
  const dial = deps.endpoint ?? ((registry: string) => registry);
  const sourceCredentials = await sourceCredentialSource(event, request, deps);
  const destinationCredentials = pinned(ecrCredentialSource(deps.ecr(regionOf(request.destinationRegistry, deps))), request.destinationRegistry);
  const ref = parseImageReference(request.sourceImage);
  const source = formatImageReference({ ...ref, registry: dial(ref.registry) });
  const destination = `${dial(request.destinationRegistry)}${request.destinationRepositoryUri.slice(request.destinationRegistry.length)}:${request.destinationTag}`;
  try {
    return await copyImage({
      source,
      destination,
      sourceCredentials,
      destinationCredentials,
      platforms: request.platforms,
      concurrency: deps.concurrency,
      deadline,
      plainHttp: deps.plainHttp,
      onProgress: deps.onProgress,
    });
  } catch (e) {
    if ((e as Error)?.name === 'StoppedError') {
      return undefined;
    }
    const failure = copyFailure(e, request);
    // Only outages are worth another poll: a corrupt blob or a refused credential was already
    // retried by the engine and would fail the same way again.
    const outage = e instanceof CopyError && e.retryable && (e.code === 'NETWORK' || e.code === 'REGISTRY');
    throw outage ? new TransientFailure(failure.message) : failure;
  }
}

/** A failure worth another attempt on the next poll (see TRANSIENT_RETRY_WINDOW_MS). */
class TransientFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientFailure';
  }
}

/** Credentials for the source, by kind. Every path keeps the secret in memory only. */
async function sourceCredentialSource(event: ImageSyncEvent, request: SyncRequest, deps: HandlerDependencies): Promise<CredentialSource | undefined> {
  switch (request.kind) {
    case 'TenantEcr': {
      let credentials: SessionCredentials;
      try {
        credentials = await assumePullSession({
          sts: deps.sts,
          roleArn: request.accessRoleArn!,
          externalId: request.externalId!,
          repositoryArn: request.sourceRepositoryArn!,
          sessionName: sessionName(request.releaseId, event.LogicalResourceId),
          sessionTags: sessionTags(request.releaseId),
          durationSeconds: PULL_SESSION_SECONDS,
        });
      } catch (e) {
        throw assumeRoleFailure(e, request);
      }
      return pinned(ecrCredentialSource(deps.ecr(regionOf(request.sourceRegistry, deps), credentials)), request.sourceRegistry);
    }
    case 'Ecr':
      return pinned(ecrCredentialSource(deps.ecr(regionOf(request.sourceRegistry, deps))), request.sourceRegistry);
    case 'Registry': {
      if (!request.credentialsSecretArn) {
        return undefined;
      }
      const secret = await readRegistrySecret(request, deps);
      return async () => secret;
    }
  }
}

async function readRegistrySecret(request: SyncRequest, deps: HandlerDependencies): Promise<{ username: string; password: string }> {
  let text: string | undefined;
  try {
    text = await deps.readSecret(request.credentialsSecretArn!);
  } catch (e) {
    throw new Error(
      `Could not read the registry credentials secret ${request.credentialsSecretArn} for ${request.sourceImage}: ${awsErrorText(e)}. ` +
      'Check that the secret exists in this account and region and that its KMS key lets the sync function decrypt it.',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    parsed = undefined;
  }
  const value = parsed as { username?: unknown; password?: unknown } | undefined;
  if (!value || typeof value.username !== 'string' || typeof value.password !== 'string' || !value.username) {
    // Never echo the secret's content: only say what shape is expected.
    throw new Error(
      `The registry credentials secret ${request.credentialsSecretArn} must hold JSON {"username": "...", "password": "..."} ` +
      '(a string secret, not binary). Update the secret value and deploy again.',
    );
  }
  return { username: value.username, password: value.password };
}

function assumeRoleFailure(e: unknown, request: SyncRequest): Error {
  const cause = (e as { cause?: { name?: string } })?.cause;
  const name = cause?.name ?? (e as { name?: string })?.name ?? '';
  if (/AccessDenied/.test(name) || (e instanceof CopyError && e.code === 'DENIED')) {
    return new Error(
      `Access denied assuming role ${request.accessRoleArn} to pull ${request.sourceImage}: ${awsErrorText(e)}. ` +
      'Check that the access role trusts this stack\'s sync function role, that the external id matches ' +
      'the one in its trust policy (and that it allows sts:TagSession when a release id is set), and that the role may pull from the repository.',
    );
  }
  const message = `Could not assume role ${request.accessRoleArn} to pull ${request.sourceImage}: ${awsErrorText(e)}. ` +
    'If STS was unreachable or throttled, deploy again; in a VPC without a NAT gateway, add an STS interface endpoint.';
  return TRANSIENT_STS_ERROR.test(name) ? new TransientFailure(message) : new Error(message);
}

/** Delete: remove the tag only when opted in and it still points at the digest this resource copied. */
async function removeOnDelete(event: ImageSyncEvent, deps: HandlerDependencies): Promise<void> {
  const log = deps.log ?? defaultLog;
  let request: SyncRequest;
  try {
    request = parseSyncRequest(event.ResourceProperties);
  } catch {
    log('delete: properties unreadable, keeping whatever exists');
    return;
  }
  const copied = parsePhysicalId(event.PhysicalResourceId);
  if (!request.removeOnDelete || !copied) {
    log('delete: keeping the image', { removeOnDelete: request.removeOnDelete, physicalResourceId: event.PhysicalResourceId });
    return;
  }
  const registry = copied.repositoryUri.slice(0, copied.repositoryUri.indexOf('/'));
  const repositoryName = copied.repositoryUri.slice(registry.length + 1);
  const ecr = deps.ecr(regionOf(registry, deps));
  const registryId = parseEcrRegistry(registry)?.account;
  let current: string | undefined;
  try {
    const out = await ecr.send(new DescribeImagesCommand({ registryId, repositoryName, imageIds: [{ imageTag: copied.tag }] }));
    current = out.imageDetails?.[0]?.imageDigest;
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === 'ImageNotFoundException' || name === 'RepositoryNotFoundException') {
      log('delete: tag already gone', { repositoryName, tag: copied.tag });
      return;
    }
    throw new Error(
      `Could not check where tag ${copied.tag} of ${copied.repositoryUri} points before removing it: ${awsErrorText(e)}. ` +
      'Grant the sync function ecr:DescribeImages on the repository, or set removeOnDelete to false to keep the image.',
    );
  }
  if (current !== copied.digest) {
    log('delete: tag now points elsewhere, keeping it', { repositoryName, tag: copied.tag, digest: current, ours: copied.digest });
    return;
  }
  try {
    const out = await ecr.send(new BatchDeleteImageCommand({ registryId, repositoryName, imageIds: [{ imageTag: copied.tag }] }));
    const failure = out.failures?.find((f) => f.failureCode !== 'ImageNotFound' && f.failureCode !== 'ImageTagDoesNotMatchDigest');
    if (failure) {
      throw Object.assign(new Error(`${failure.failureCode}: ${failure.failureReason}`), { name: failure.failureCode });
    }
  } catch (e) {
    throw new Error(
      `Could not remove tag ${copied.tag} from ${copied.repositoryUri}: ${awsErrorText(e)}. ` +
      'Grant the sync function ecr:BatchDeleteImage on the repository, or set removeOnDelete to false to keep the image.',
    );
  }
  log('delete: removed the tag', { repositoryName, tag: copied.tag, digest: copied.digest });
}

/** A credential source that asks for the named (logical) registry whatever host is dialled. */
function pinned(source: CredentialSource, registry: string): CredentialSource {
  return () => source(registry);
}

function regionOf(registry: string, deps: HandlerDependencies): string {
  return parseEcrRegistry(registry)?.region ?? deps.region;
}

/** `sync-<release>-<logical id>`: names the session in the tenant's CloudTrail (at most 64 of [\w+=,.@-]). */
export function sessionName(releaseId: string | undefined, logicalId: string | undefined): string {
  const raw = ['sync', releaseId ?? 'unreleased', logicalId].filter(Boolean).join('-');
  return raw.replace(/[^\w+=,.@-]/g, '_').slice(0, 64);
}

/**
 * The release id as a session tag (CloudTrail shows it on every call of the session). Only when a
 * release id is given: tagging needs `sts:TagSession` in the access role's trust policy.
 */
export function sessionTags(releaseId: string | undefined): { key: string; value: string }[] | undefined {
  if (!releaseId) {
    return undefined;
  }
  return [{ key: 'ReleaseId', value: releaseId.replace(/[^\p{L}\p{Z}\p{N}_.:/=+@-]/gu, '_').slice(0, 256) }];
}

/** The failure reason for a copy error: what failed, on which image, and what to do. */
export function copyFailure(e: unknown, request: SyncRequest): Error {
  const what = `Copying ${request.sourceImage} to ${request.destinationRepositoryUri}:${request.destinationTag} failed`;
  if (!(e instanceof CopyError)) {
    return new Error(`${what}: ${(e as Error)?.message ?? String(e)}`);
  }
  const advice: { [code: string]: string } = {
    NOT_FOUND: 'Check the source repository, tag or digest (was the release pushed?) and that the destination repository exists.',
    UNAUTHORIZED: 'The registry rejected the credentials: check the access role, the registry secret or the function\'s ECR permissions.',
    DENIED: 'The registry denied the operation: check the repository policies (the install repository lets only its writers push) and the function\'s grants.',
    DIGEST_MISMATCH: 'The bytes received do not match their digest: the image in the source is corrupt or was changed during the copy; push it again.',
    INVALID: 'Check the image reference and the platforms requested.',
    UNSUPPORTED: 'The image uses a format the copy does not support (e.g. Docker schema 1): rebuild or convert it to OCI or Docker schema 2.',
    NETWORK: 'The registry could not be reached: in a VPC, add endpoints for ECR (api, dkr), S3 and STS, or a NAT gateway; then deploy again.',
    REGISTRY: 'The registry answered with an error: deploy again later; if it persists, check the registry\'s status.',
  };
  if (IMMUTABLE_TAG.test(e.message)) {
    return new Error(
      `${what}: ${e.message} The destination tag ${request.destinationTag} already holds a different image and the ` +
      'repository\'s tags are immutable: release under a new tag (the ImageSync tag prop), or make this tag pattern mutable.',
    );
  }
  return new Error(`${what}: ${e.message} ${advice[e.code] ?? ''}`.trim());
}

const TRANSIENT_STS_ERROR = /Throttl|TooManyRequests|ServiceUnavailable|InternalError|Timeout|ECONNRESET|ETIMEDOUT|EAI_AGAIN/i;

// ECR answers a PUT of an existing immutable tag with TAG_INVALID "... cannot be overwritten because ... immutable".
const IMMUTABLE_TAG = /TAG_INVALID|cannot be overwritten because the (repository|tag) is immutable/i;

function budgetExhausted(request: SyncRequest, last: CopyResult | undefined): Error {
  const progress = last
    ? ` (the last attempt copied ${last.blobsCopied} blobs, ${last.bytesCopied} bytes, of an image of ${last.size} bytes)`
    : '';
  return new Error(
    `Time budget exhausted: copying ${request.sourceImage} to ${request.destinationRepositoryUri}:${request.destinationTag} ` +
    `did not finish within ${request.totalTimeoutSeconds} seconds${progress}. The tag was not moved. ` +
    'Deploy again to resume (blobs already copied are skipped), give the ImageSync a larger totalTimeout or memorySize, ' +
    'or pre-seed the image with the command-line copy.',
  );
}

function awsErrorText(e: unknown): string {
  const err = e as { name?: string; message?: string };
  const name = err?.name && err.name !== 'Error' && err.name !== 'CopyError' ? `${err.name}: ` : '';
  return `${name}${err?.message ?? String(e)}`;
}

/** The event without the response URL (a pre-signed URL) and without the external id. */
export function describeEvent(event: ImageSyncEvent): { [key: string]: unknown } {
  const properties = { ...(event.ResourceProperties ?? {}) } as { [key: string]: unknown };
  delete properties.ServiceToken;
  if (properties.ExternalId !== undefined) properties.ExternalId = '***';
  return {
    requestType: event.RequestType,
    stackId: event.StackId,
    logicalResourceId: event.LogicalResourceId,
    physicalResourceId: event.PhysicalResourceId,
    properties,
  };
}

function defaultLog(message: string, fields?: { [key: string]: unknown }): void {
  console.log(JSON.stringify({ message, ...fields }));
}
