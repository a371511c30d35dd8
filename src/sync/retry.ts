import { CopyError, StoppedError, stoppedFrom } from './errors';

/**
 * Attempts of one registry request that can be replayed (no body, or a Buffer): with the backoff
 * below, a registry that refuses connections fails within about one to one and a half seconds.
 */
export const REQUEST_ATTEMPTS = 4;
/** Attempts of one token request to a registry's token service. */
export const TOKEN_ATTEMPTS = 4;
/** Attempts of one whole blob transfer (download, verify, upload). */
export const BLOB_ATTEMPTS = 4;

const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'HPE_INVALID_CONSTANT', 'ERR_HTTP_REQUEST_TIMEOUT',
]);

/**
 * Failures to reach a host at all: a refused connection, an unknown name, no route. Another
 * attempt a moment later rarely helps, so a request gets one retry for them at most
 * ({@link CONNECT_ATTEMPTS}) instead of the full backoff, on either side of a copy.
 */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENETUNREACH', 'EHOSTUNREACH']);
/** Attempts of one request whose connection fails before it is made (see {@link isConnectError}). */
export const CONNECT_ATTEMPTS = 2;

/** Whether an error means the host could not be reached at all (refused, unknown name, no route). */
export function isConnectError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code !== undefined && CONNECT_CODES.has(code);
}

/** What an attempt returns to ask for another one. */
export class Retry {
  /**
   * @param reason why the attempt failed, free of secrets (for the retry notice)
   * @param retryAfter the server's `Retry-After`, when it sent one
   * @param throttled the server refused for its rate quota (HTTP 429): worth waiting for, see {@link RetryOptions.waitForQuotaUntil}
   */
  constructor(public readonly reason: string, public readonly retryAfter?: string | string[], public readonly throttled = false) {}
}

/** Told before the wait that precedes another attempt. */
export interface RetryNotice {
  /** Why the last attempt failed: its {@link Retry} reason or its error's message. */
  readonly reason: string;
  /** The attempt about to start (2 for the first retry). */
  readonly attempt: number;
  /** Attempts in all (not counting the ones that waited for quota). */
  readonly attempts: number;
  /** The attempt was throttled and the next one waits for the quota, beyond `attempts`. */
  readonly waitingForQuota: boolean;
}

export interface RetryOptions {
  /** Attempts in all, the first one included (throttled attempts that wait for quota aside). */
  readonly attempts: number;
  /**
   * Until when (epoch ms) a throttled attempt is tried again beyond `attempts`: one that returns a
   * {@link Retry} marked `throttled`, or throws an error `throttled` accepts, waits for the quota
   * (backoff with full jitter, never less than the server's Retry-After) and does not use up an
   * attempt. A wait that would reach this time ends in a StoppedError('deadline') at it: the copy
   * then stops as it does at its deadline. A rate quota refills; a failing server may not, so
   * other failures keep their attempts.
   * @default - a throttled attempt counts against `attempts` like any other failure
   */
  readonly waitForQuotaUntil?: number;
  /**
   * Whether an error an attempt throws is throttling (see `waitForQuotaUntil`).
   * @default - none is: a throttled attempt returns a {@link Retry} marked `throttled`
   */
  readonly throttled?: (error: unknown) => boolean;
  /** Once aborted, no attempt starts and no wait goes on: the signal's StoppedError is thrown instead. */
  readonly signal?: AbortSignal;
  /**
   * Whether an error an attempt throws is worth another attempt.
   * @default - never: the attempt returns a {@link Retry} when it wants another
   */
  readonly retryable?: (error: unknown) => boolean;
  readonly onRetry?: (notice: RetryNotice) => void;
}

/** What an attempt is told before it starts. */
export interface AttemptInfo {
  /** 0 for the first attempt. */
  readonly index: number;
  /** No other attempt follows a failure: the attempt must not return a {@link Retry}, unless throttled and `waitsForQuota`. */
  readonly last: boolean;
  /** A throttled attempt may still return a {@link Retry} marked `throttled`: the retries wait for the quota until their deadline. */
  readonly waitsForQuota: boolean;
}

/** An attempt: returns its value, or a {@link Retry} to ask for another (see {@link AttemptInfo}). */
export type Attempt<T> = (attempt: AttemptInfo) => Promise<T | Retry>;

/**
 * Runs `attempt` until it returns a value, at most `options.attempts` times. An attempt asks for
 * another by returning a {@link Retry} or by throwing an error `options.retryable` accepts; between
 * attempts it waits with exponential backoff and jitter, or as long as the server's Retry-After
 * asks. The last attempt's error is thrown as it is. With `options.waitForQuotaUntil`, throttled
 * attempts are tried again until then without using up the attempts.
 */
export async function withRetries<T>(options: RetryOptions, attempt: Attempt<T>): Promise<T> {
  const until = options.waitForQuotaUntil;
  let failures = 0;
  let throttles = 0;
  for (let index = 0; ; index++) {
    throwIfStopped(options.signal);
    const last = failures + 1 >= options.attempts;
    const waitsForQuota = until !== undefined && Date.now() < until;
    let again: Retry;
    try {
      const outcome = await attempt({ index, last, waitsForQuota });
      if (!(outcome instanceof Retry)) {
        return outcome;
      }
      again = outcome;
    } catch (error) {
      throwIfStopped(options.signal);
      const throttled = waitsForQuota && (options.throttled?.(error) ?? false);
      if (!throttled && (last || !options.retryable?.(error))) {
        throw error;
      }
      again = new Retry((error as Error)?.message ?? String(error), undefined, throttled);
    }
    const forQuota = again.throttled && waitsForQuota;
    if (last && !forQuota) {
      throw new Error(`the last of ${options.attempts} attempts asked for another: ${again.reason}`);
    }
    options.onRetry?.({ reason: again.reason, attempt: index + 2, attempts: options.attempts, waitingForQuota: forQuota });
    if (!forQuota) {
      await sleep(retryDelayMs(failures++, again.retryAfter), options.signal);
      continue;
    }
    const delay = quotaDelayMs(throttles++, again.retryAfter);
    if (Date.now() + delay >= until!) {
      // No attempt fits before the deadline: stop there, as the copy does at its deadline.
      await sleep(Math.max(0, until! - Date.now()), options.signal);
      throw new StoppedError('deadline');
    }
    await sleep(delay, options.signal);
  }
}

/**
 * Whether an error says the service throttled the caller: a registry's HTTP 429 (a CopyError's
 * status), or an AWS SDK throttling error (`$retryable.throttling`, or its name).
 */
export function isThrottlingError(error: unknown): boolean {
  const e = error as { status?: number; name?: string; code?: string; $retryable?: { throttling?: boolean } } | undefined;
  if (!e) {
    return false;
  }
  if (error instanceof CopyError) {
    return e.status === 429;
  }
  return e.$retryable?.throttling === true || THROTTLING_NAMES.test(`${e.name ?? ''} ${e.code ?? ''}`);
}

const THROTTLING_NAMES = /Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/i;

/**
 * The engine's usual test: a CopyError that says it may pass and whose request was not already
 * retried (loops never nest), or a reset, timeout or truncated body.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof CopyError ? error.retryable && !error.retried : isRetryableNetworkError(error);
}

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/** Connection resets, timeouts, truncated bodies: worth another try. */
export function isRetryableNetworkError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) {
    return false;
  }
  if (e.code && RETRYABLE_CODES.has(e.code)) {
    return true;
  }
  return /socket hang up|aborted|premature close|other side closed/i.test(e.message ?? '');
}

/**
 * Delay before attempt `attempt + 1`: the server's Retry-After when it sent one (capped), otherwise
 * exponential backoff with full jitter so that parallel transfers do not retry in lock step.
 */
export function retryDelayMs(attempt: number, retryAfter?: string | string[], now = Date.now()): number {
  const fromServer = parseRetryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now);
  if (fromServer !== undefined) {
    return Math.min(fromServer, 60_000);
  }
  const ceiling = Math.min(200 * 2 ** attempt, 8_000);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Delay before the next attempt of a request that waits for quota (`throttles` waits before it):
 * full jitter over an exponential ceiling (capped at 8 s), on top of the server's Retry-After
 * (capped at a minute). Clients throttled together thus come back spread out, not in lock step
 * at the second the server named, and the bucket's tokens go to requests that are admitted.
 */
export function quotaDelayMs(throttles: number, retryAfter?: string | string[], now = Date.now()): number {
  const fromServer = parseRetryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, now) ?? 0;
  const ceiling = Math.min(200 * 2 ** throttles, 8_000);
  return Math.min(fromServer, 60_000) + Math.round(Math.random() * ceiling);
}

/** `Retry-After: <seconds>` or `Retry-After: <HTTP date>` in milliseconds from now. */
export function parseRetryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  const trimmed = value.trim();
  if (/^[0-9]+$/.test(trimmed)) {
    return Number(trimmed) * 1000;
  }
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Waits, but wakes up with a StoppedError as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(stoppedFrom(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(stoppedFrom(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function throwIfStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw stoppedFrom(signal);
  }
}
