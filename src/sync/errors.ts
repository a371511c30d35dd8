/** What kind of failure stopped a copy; callers branch on it (retry later, fix permissions, ...). */
export type CopyErrorCode =
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'DIGEST_MISMATCH'
  | 'INVALID'
  | 'UNSUPPORTED'
  | 'NETWORK'
  | 'REGISTRY'
  /** The engine refused what a registry asked: a plain-HTTP hop, a local address, credentials for another origin. */
  | 'REFUSED'
  /** The image exceeds one of the engine's caps (manifests, depth, manifest bytes, blob size). */
  | 'LIMIT'
  /** The source's tag names another image than the caller expected (`expectedSourceDigest`): nothing was written. */
  | 'UNEXPECTED_DIGEST'
  /** No signature of the source digest satisfies the verification policy: nothing was written. */
  | 'UNVERIFIED'
  /** The destination tag holds another digest and the copy was told not to move it (`noClobber`). */
  | 'CONFLICT';

/** Extra context for a {@link CopyError}. */
export interface CopyErrorDetails {
  readonly registry?: string;
  readonly reference?: string;
  /** HTTP status of the failing response, if any. */
  readonly status?: number;
  /** True when trying again later may succeed (5xx, 429, resets, expired tokens). */
  readonly retryable?: boolean;
  /**
   * True when the engine already spent its attempts on the request that failed: a loop around it
   * must not try again (only a later run may).
   */
  readonly retried?: boolean;
  readonly cause?: unknown;
}

/**
 * A failed registry operation. Messages say what failed, where, and what to do; they never
 * contain credentials or tokens.
 */
export class CopyError extends Error {
  public readonly code: CopyErrorCode;
  public readonly registry?: string;
  public readonly reference?: string;
  public readonly status?: number;
  public readonly retryable: boolean;
  /** The engine already retried the failing request: retryable later, not now. */
  public readonly retried: boolean;

  constructor(code: CopyErrorCode, message: string, details: CopyErrorDetails = {}) {
    super(message);
    this.name = 'CopyError';
    this.code = code;
    this.registry = details.registry;
    this.reference = details.reference;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
    this.retried = details.retried ?? false;
    if (details.cause !== undefined) {
      Object.defineProperty(this, 'cause', { value: details.cause, enumerable: false, configurable: true, writable: true });
    }
  }
}

/** Raised inside the engine when the deadline or the caller's signal stops work. */
export class StoppedError extends Error {
  constructor(public readonly reason: 'deadline' | 'aborted') {
    super(reason === 'deadline' ? 'the deadline was reached' : 'the copy was aborted');
    this.name = 'StoppedError';
  }
}

/** The engine aborts its signal with a StoppedError reason; any other reason is a caller's abort. */
export function stoppedFrom(signal: AbortSignal): StoppedError {
  return signal.reason instanceof StoppedError ? signal.reason : new StoppedError('aborted');
}

/** A network error's code and message, never headers or URLs with query strings. */
export function describeNetworkError(err: unknown): string {
  if (err instanceof StoppedError) {
    return err.message;
  }
  const e = err as { code?: string; message?: string };
  const message = (e?.message ?? String(err)).replace(/https?:\/\/\S+/g, '<url>');
  return e?.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
