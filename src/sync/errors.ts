/** What kind of failure stopped a copy; callers branch on it (retry later, fix permissions, ...). */
export type CopyErrorCode =
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'DIGEST_MISMATCH'
  | 'INVALID'
  | 'UNSUPPORTED'
  | 'NETWORK'
  | 'REGISTRY';

/** Extra context for a {@link CopyError}. */
export interface CopyErrorDetails {
  readonly registry?: string;
  readonly reference?: string;
  /** HTTP status of the failing response, if any. */
  readonly status?: number;
  /** True when trying again later may succeed (5xx, 429, resets, expired tokens). */
  readonly retryable?: boolean;
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

  constructor(code: CopyErrorCode, message: string, details: CopyErrorDetails = {}) {
    super(message);
    this.name = 'CopyError';
    this.code = code;
    this.registry = details.registry;
    this.reference = details.reference;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
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

/**
 * Removes every occurrence of the given secrets (and their Basic-auth encodings) from a text.
 * A last line of defence: messages are built without secrets in the first place.
 */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) {
      out = out.split(secret).join('***');
    }
  }
  return out;
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
