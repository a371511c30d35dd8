import { CopyError, stoppedFrom } from './errors';

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
   */
  constructor(public readonly reason: string, public readonly retryAfter?: string | string[]) {}
}

/** Told before the wait that precedes another attempt. */
export interface RetryNotice {
  /** Why the last attempt failed: its {@link Retry} reason or its error's message. */
  readonly reason: string;
  /** The attempt about to start (2 for the first retry). */
  readonly attempt: number;
  /** Attempts in all. */
  readonly attempts: number;
}

export interface RetryOptions {
  /** Attempts in all, the first one included. */
  readonly attempts: number;
  /** Once aborted, no attempt starts and no wait goes on: the signal's StoppedError is thrown instead. */
  readonly signal?: AbortSignal;
  /**
   * Whether an error an attempt throws is worth another attempt.
   * @default - never: the attempt returns a {@link Retry} when it wants another
   */
  readonly retryable?: (error: unknown) => boolean;
  readonly onRetry?: (notice: RetryNotice) => void;
}

/** An attempt, told its index (0 first) and whether it is the last one (then it must not return a {@link Retry}). */
export type Attempt<T> = (attempt: { readonly index: number; readonly last: boolean }) => Promise<T | Retry>;

/**
 * Runs `attempt` until it returns a value, at most `options.attempts` times. An attempt asks for
 * another by returning a {@link Retry} or by throwing an error `options.retryable` accepts; between
 * attempts it waits with exponential backoff and full jitter, or as long as the server's
 * Retry-After asks. The last attempt's error is thrown as it is.
 */
export async function withRetries<T>(options: RetryOptions, attempt: Attempt<T>): Promise<T> {
  for (let index = 0; ; index++) {
    throwIfStopped(options.signal);
    const last = index + 1 >= options.attempts;
    let again: Retry;
    try {
      const outcome = await attempt({ index, last });
      if (!(outcome instanceof Retry)) {
        return outcome;
      }
      again = outcome;
    } catch (error) {
      throwIfStopped(options.signal);
      if (last || !options.retryable?.(error)) {
        throw error;
      }
      again = new Retry((error as Error)?.message ?? String(error));
    }
    if (last) {
      throw new Error(`the last of ${options.attempts} attempts asked for another: ${again.reason}`);
    }
    options.onRetry?.({ reason: again.reason, attempt: index + 2, attempts: options.attempts });
    await sleep(retryDelayMs(index, again.retryAfter), options.signal);
  }
}

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
