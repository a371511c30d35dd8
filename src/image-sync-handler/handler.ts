/**
 * The ImageSync custom resource's flow: event → request → engine → result. `onEvent` checks a
 * Create or Update and starts its clock, the copy runs (and resumes) in `isComplete` polls after
 * the destination was asked first, and a Delete keeps the image unless told to remove its tag.
 * Every failure reason and log line leaves through the invocation's redactor.
 */
import { isDigest } from '../image-reference';
import { Attributes } from '../image-sync-contract';
import { CopyResult, StoppedError, copyImage } from '../sync';
import { destinationCredentials, sourceCredentials } from './credentials';
import { HandlerDependencies, Invocation, engineOptions, invocationOf } from './dependencies';
import { DestinationAnswer, fromDestination } from './destination-first';
import { TransientFailure, budgetExhausted, copyAttemptFailure, layerTooLarge } from './failures';
import { pushFromHelmRepository } from './helm-repository';
import { pushFromArchive } from './oci-archive';
import { parsePhysicalId, physicalId } from './physical-id';
import { removeOnDelete } from './remove-on-delete';
import {
  BUDGET_KEY, CopyRequest, IS_COMPLETE_PHASE, ImageSyncEvent, PHASE_KEY, STARTED_KEY, StartRequest, SyncRequest,
  describeEvent, destinationName, parseEvent, sourceName,
} from './request';
import { createBundleVerifier } from '../sync/sigstore-verify';

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

// Stop copying this long before the function's own timeout, so the answer gets back to the framework.
const INVOCATION_MARGIN_MS = 45_000;
// A failure that may pass (a registry's 5xx or 429 outlasting the engine's own retries, STS
// throttling) is tried again on the next poll, for this long after it first happened; then it
// fails the resource. A misconfiguration (no route, no endpoint) thus fails within minutes, not an hour.
const TRANSIENT_RETRY_WINDOW_MS = 10 * 60_000;
// Fail with a clear reason this long before CloudFormation would time the resource out on its own.
const BUDGET_MARGIN_MS = 90_000;
// Below this many bytes moved, an invocation's transfer rate says nothing about a layer's fate.
const RATE_SAMPLE_BYTES = 1024 * 1024;

/**
 * When each Create or Update in a transient failure first failed, by request. Polls carry no
 * state of their own (each gets the same event), so the window lives in the execution
 * environment, which the polls of one request share while it stays warm; a new environment starts
 * the window again, and the request's time budget still bounds it.
 */
const firstFailures = new Map<string, number>();

/**
 * One entry point for both provider phases: `onEvent` (the CloudFormation event) and
 * `isComplete` (the same event plus what `onEvent` answered). The event is read here, once.
 *
 * @param remainingTimeMs the invocation's remaining time (the Lambda context's)
 */
export async function handleEvent(
  event: ImageSyncEvent,
  deps: HandlerDependencies,
  remainingTimeMs: () => number,
): Promise<OnEventResponse | IsCompleteResponse> {
  const inv = invocationOf(deps);
  try {
    inv.log(event[PHASE_KEY] === IS_COMPLETE_PHASE ? 'isComplete' : 'onEvent', describeEvent(event));
    checkStack(event, deps);
    const request = parseEvent(event);
    if ('sync' in request && request.sync) {
      inv.redactor.add(request.sync.externalId);
    }
    switch (request.step) {
      case 'start':
        return start(request, deps);
      case 'copy':
        return await copy(request, inv, remainingTimeMs);
      case 'delete':
        await removeOnDelete(request, inv);
        return { PhysicalResourceId: request.physicalId!, [PHASE_KEY]: IS_COMPLETE_PHASE };
      case 'delete-done':
        return { IsComplete: true };
    }
  } catch (e) {
    throw inv.redactor.error(e instanceof Error ? e : new Error(String(e)));
  }
}

/**
 * Refuses an event of another stack. The provider gives the function its own stack's id; anyone
 * else who may invoke the function (and so forge an event) is outside what the resource controls.
 */
function checkStack(event: ImageSyncEvent, deps: HandlerDependencies): void {
  if (deps.stackId !== undefined && event.StackId !== deps.stackId) {
    throw new Error(
      `Refused an event for stack ${event.StackId ?? '(none)'}: this sync function serves stack ${deps.stackId} only. ` +
      'Events reach it from CloudFormation through its own stack\'s provider; check who invoked the function.',
    );
  }
}

/** Create/Update's onEvent: the properties are valid; start the clock. The copy runs in isComplete. */
function start(request: StartRequest, deps: HandlerDependencies): OnEventResponse {
  const now = (deps.now ?? Date.now)();
  const { sync } = request;
  const pending = request.requestType === 'Update' && request.physicalId
    ? request.physicalId
    : physicalId(sync.destinationRepositoryUri, sync.destination.tag);
  return {
    PhysicalResourceId: pending,
    [PHASE_KEY]: IS_COMPLETE_PHASE,
    [BUDGET_KEY]: now + Math.max(sync.totalTimeoutSeconds * 1000 - BUDGET_MARGIN_MS, 60_000),
    [STARTED_KEY]: now,
  };
}

/**
 * Asks the destination first, then runs (or resumes) the copy until the invocation's time is
 * nearly up. Answers `IsComplete: false` to be called again (blobs already copied are skipped),
 * and fails once the budget is spent or a layer cannot fit in one invocation.
 */
async function copy(request: CopyRequest, inv: Invocation, remainingTimeMs: () => number): Promise<IsCompleteResponse> {
  const { deps, log } = inv;
  const clock = deps.now ?? Date.now;
  const { sync, budgetEndsAt } = request;
  const started = clock();
  if (started >= budgetEndsAt) {
    throw budgetExhausted(sync, undefined);
  }
  const deadline = Math.min(started + remainingTimeMs() - INVOCATION_MARGIN_MS, budgetEndsAt);

  const answered = await fromDestination(request, inv, deadline);
  if (answered === 'stopped') {
    log('stopped at the deadline while tagging from the destination, will resume', { destination: destinationName(sync) });
    return incomplete(sync, budgetEndsAt, clock, undefined);
  }
  if (answered) {
    firstFailures.delete(request.requestKey);
    return complete(request, answered);
  }

  let result: CopyResult | undefined;
  try {
    result = await runCopy(request, inv, deadline);
  } catch (e) {
    const now = clock();
    const first = firstFailures.get(request.requestKey) ?? now;
    if (e instanceof TransientFailure && now - first < TRANSIENT_RETRY_WINDOW_MS && now < budgetEndsAt) {
      firstFailures.set(request.requestKey, first);
      forgetStale(now);
      log('transient failure, will retry on the next poll', { reason: e.message, failingForSeconds: Math.round((now - first) / 1000) });
      return { IsComplete: false };
    }
    firstFailures.delete(request.requestKey);
    throw e;
  }
  firstFailures.delete(request.requestKey);
  if (!result) {
    // Stopped before the copy was even planned (the deadline came during the first requests).
    log('copy stopped at the deadline before it was planned, will resume', { source: sourceName(sync) });
    return incomplete(sync, budgetEndsAt, clock, undefined);
  }
  log(result.complete ? 'copy complete' : 'copy stopped at the deadline, will resume', {
    source: sourceName(sync),
    destination: destinationName(sync),
    digest: result.digest,
    alreadyPresent: result.alreadyPresent,
    bytesCopied: result.bytesCopied,
    blobsCopied: result.blobsCopied,
    blobsSkipped: result.blobsSkipped,
    ...(result.referrers ? { referrersCopied: result.referrers.copied, referrersFound: result.referrers.found } : {}),
    ...(result.referrers?.indexLeftBehind ? { indexReferrersNotCarried: result.referrers.indexLeftBehind.referrers } : {}),
    ...(result.signatures?.signature ? { signatureVerified: result.signatures.signature } : {}),
    seconds: (clock() - started) / 1000,
  });
  if (!result.complete) {
    checkLayersFit(sync, result, clock() - started, deadline - started);
    return incomplete(sync, budgetEndsAt, clock, result);
  }
  return complete(request, result);
}

/** `IsComplete: false` to be polled again, unless the budget is spent. */
function incomplete(sync: SyncRequest, budgetEndsAt: number, clock: () => number, result: CopyResult | undefined): IsCompleteResponse {
  if (clock() >= budgetEndsAt) {
    throw budgetExhausted(sync, result);
  }
  return { IsComplete: false };
}

/**
 * Fails now when a layer the deadline cut short cannot be copied within one invocation even at
 * the rate this one reached: blobs are not resumed part-way, so the next poll would start it over
 * and never finish.
 */
function checkLayersFit(sync: SyncRequest, result: CopyResult, elapsedMs: number, windowMs: number): void {
  if (result.bytesTransferred < RATE_SAMPLE_BYTES || elapsedMs <= 0 || result.interrupted.length === 0) {
    return;
  }
  const bytesPerSecond = result.bytesTransferred / (elapsedMs / 1000);
  const largest = result.interrupted.reduce((a, b) => (b.size > a.size ? b : a));
  const needsSeconds = largest.size / bytesPerSecond;
  if (needsSeconds > windowMs / 1000) {
    throw layerTooLarge(sync, largest, bytesPerSecond, needsSeconds, windowMs / 1000);
  }
}

/** The answer of a completed Create or Update: the physical id and the attributes, from a checked digest. */
function complete(request: CopyRequest, result: DestinationAnswer): IsCompleteResponse {
  const { sync } = request;
  if (!isDigest(result.digest)) {
    throw new Error(
      `Copying ${sourceName(sync)} to ${destinationName(sync)} ended with ${JSON.stringify(result.digest.slice(0, 100))}, `
      + 'which is not a sha256 digest; nothing is reported. Check the destination registry.',
    );
  }
  const repositoryUri = sync.destinationRepositoryUri;
  return {
    IsComplete: true,
    PhysicalResourceId: physicalId(repositoryUri, sync.destination.tag, result.digest, wroteTag(request, result)),
    Data: {
      [Attributes.IMAGE_DIGEST]: result.digest,
      [Attributes.IMAGE_URI]: `${repositoryUri}@${result.digest}`,
      [Attributes.IMAGE_TAG]: sync.destination.tag,
      [Attributes.REPOSITORY_URI]: repositoryUri,
      [Attributes.MEDIA_TYPE]: result.mediaType,
      [Attributes.BYTES_COPIED]: String(result.bytesCopied),
      [Attributes.BLOBS_COPIED]: String(result.blobsCopied),
      [Attributes.BLOBS_SKIPPED]: String(result.blobsSkipped),
    },
  };
}

/**
 * Whether the tag is this resource's: it wrote the tag now, or its physical id already says it
 * wrote this very tag and digest. A tag found in place is never claimed (Delete then keeps it).
 */
function wroteTag(request: CopyRequest, result: DestinationAnswer): boolean {
  if (!result.alreadyPresent) {
    return true;
  }
  const before = parsePhysicalId(request.physicalId);
  return before !== undefined && before.written && before.repositoryUri === request.sync.destinationRepositoryUri
    && before.tag === request.sync.destination.tag && before.digest === result.digest;
}

/** Runs the engine; undefined when the deadline stopped it before it knew what to copy. */
async function runCopy(request: CopyRequest, inv: Invocation, deadline: number): Promise<CopyResult | undefined> {
  const { sync } = request;
  const { deps } = inv;
  let source: Awaited<ReturnType<typeof sourceCredentials>>;
  try {
    source = await sourceCredentials(sync, request.logicalId, inv, deadline);
  } catch (e) {
    if (e instanceof StoppedError) {
      // The pull session waited for STS's quota until the deadline: resumed on the next poll.
      return undefined;
    }
    throw e;
  }
  try {
    if (sync.archive) {
      return await pushFromArchive(sync, inv, deadline);
    }
    if (sync.helm) {
      return await pushFromHelmRepository(sync, inv, deadline, source);
    }
    return await copyImage({
      source: sync.source,
      destination: sync.destination,
      sourceCredentials: source,
      destinationCredentials: destinationCredentials(sync, deps, deadline),
      platforms: sync.platforms,
      expectedSourceDigest: sync.expectedSourceDigest,
      referrers: sync.copyReferrers,
      verifyKeys: sync.verificationPublicKeys,
      verifyIdentities: sync.verificationSigstore?.identities,
      trustedRoot: sync.verificationSigstore?.trustedRoot,
      bundleVerifier: () => createBundleVerifier,
      ...engineOptions(inv, deadline),
    });
  } catch (e) {
    if (e instanceof StoppedError) {
      return undefined;
    }
    throw copyAttemptFailure(e, sync);
  }
}

/** Forgets failures of requests long over (a warm environment serves many). */
function forgetStale(now: number): void {
  for (const [key, at] of firstFailures) {
    if (now - at > 2 * 3600_000) {
      firstFailures.delete(key);
    }
  }
}
