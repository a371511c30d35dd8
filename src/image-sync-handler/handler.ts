/**
 * The ImageSync custom resource's flow: event → request → engine → result. `onEvent` checks a
 * Create or Update and starts its clock, the copy runs (and resumes) in `isComplete` polls, and a
 * Delete keeps the image unless told to remove its tag.
 */
import { Attributes } from '../image-sync-contract';
import { CopyResult, StoppedError, copyImage } from '../sync';
import { destinationCredentials, sourceCredentials } from './credentials';
import { HandlerDependencies, logOf } from './dependencies';
import { TransientFailure, budgetExhausted, copyAttemptFailure } from './failures';
import { physicalId } from './physical-id';
import { removeOnDelete } from './remove-on-delete';
import {
  BUDGET_KEY, CopyRequest, IS_COMPLETE_PHASE, ImageSyncEvent, PHASE_KEY, STARTED_KEY, StartRequest,
  describeEvent, destinationName, parseEvent, sourceName,
} from './request';

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
// throttling) is tried again on the next poll, for this long after the request started; then it
// fails the resource. A misconfiguration (no route, no endpoint) thus fails within minutes, not an hour.
const TRANSIENT_RETRY_WINDOW_MS = 10 * 60_000;
// Fail with a clear reason this long before CloudFormation would time the resource out on its own.
const BUDGET_MARGIN_MS = 90_000;

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
  logOf(deps)(event[PHASE_KEY] === IS_COMPLETE_PHASE ? 'isComplete' : 'onEvent', describeEvent(event));
  const request = parseEvent(event);
  switch (request.step) {
    case 'start':
      return start(request, deps);
    case 'copy':
      return copy(request, deps, remainingTimeMs);
    case 'delete':
      await removeOnDelete(request, deps);
      return { PhysicalResourceId: request.physicalId!, [PHASE_KEY]: IS_COMPLETE_PHASE };
    case 'delete-done':
      return { IsComplete: true };
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
 * Runs (or resumes) the copy until the invocation's time is nearly up. Answers `IsComplete: false`
 * to be called again (blobs already copied are skipped), and fails once the budget is spent.
 */
async function copy(request: CopyRequest, deps: HandlerDependencies, remainingTimeMs: () => number): Promise<IsCompleteResponse> {
  const clock = deps.now ?? Date.now;
  const log = logOf(deps);
  const { sync, budgetEndsAt } = request;
  const started = clock();
  if (started >= budgetEndsAt) {
    throw budgetExhausted(sync, undefined);
  }
  const deadline = Math.min(started + remainingTimeMs() - INVOCATION_MARGIN_MS, budgetEndsAt);

  let result: CopyResult | undefined;
  try {
    result = await runCopy(request, deps, deadline);
  } catch (e) {
    const startedAt = request.startedAt ?? started;
    const now = clock();
    if (e instanceof TransientFailure && now - startedAt < TRANSIENT_RETRY_WINDOW_MS && now < budgetEndsAt) {
      log('transient failure, will retry on the next poll', { reason: e.message });
      return { IsComplete: false };
    }
    throw e;
  }
  if (!result) {
    // Stopped before the copy was even planned (the deadline came during the first requests).
    log('copy stopped at the deadline before it was planned, will resume', { source: sourceName(sync) });
    if (clock() >= budgetEndsAt) {
      throw budgetExhausted(sync, undefined);
    }
    return { IsComplete: false };
  }
  log(result.complete ? 'copy complete' : 'copy stopped at the deadline, will resume', {
    source: sourceName(sync),
    destination: destinationName(sync),
    digest: result.digest,
    alreadyPresent: result.alreadyPresent,
    bytesCopied: result.bytesCopied,
    blobsCopied: result.blobsCopied,
    blobsSkipped: result.blobsSkipped,
    seconds: (clock() - started) / 1000,
  });
  if (!result.complete) {
    if (clock() >= budgetEndsAt) {
      throw budgetExhausted(sync, result);
    }
    return { IsComplete: false };
  }
  const repositoryUri = sync.destinationRepositoryUri;
  return {
    IsComplete: true,
    PhysicalResourceId: physicalId(repositoryUri, sync.destination.tag, result.digest),
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

/** Runs the engine; undefined when the deadline stopped it before it knew what to copy. */
async function runCopy(request: CopyRequest, deps: HandlerDependencies, deadline: number): Promise<CopyResult | undefined> {
  const { sync } = request;
  const source = await sourceCredentials(sync, request.logicalId, deps);
  try {
    return await copyImage({
      source: sync.source,
      destination: sync.destination,
      sourceCredentials: source,
      destinationCredentials: destinationCredentials(sync, deps),
      platforms: sync.platforms,
      concurrency: deps.concurrency,
      deadline,
      dial: deps.dial,
      plainHttp: deps.plainHttp,
      onProgress: deps.onProgress,
    });
  } catch (e) {
    if (e instanceof StoppedError) {
      return undefined;
    }
    throw copyAttemptFailure(e, sync);
  }
}
