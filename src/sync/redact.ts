/**
 * The one gate every text leaving the engine passes: progress events, retry notices, errors, and
 * through the handler and the CLI their logs, failure reasons and stderr. It removes secrets
 * (every credential, token and Basic encoding the engine handled, plus anything shaped like an
 * Authorization value or a signed URL's signature) and terminal control characters, which a
 * registry's error text could use to rewrite a terminal line or a log's title.
 */
import type { CopyProgressEvent } from './copy';

/** What replaces a secret. */
export const REDACTED = '***';
/** What replaces a control character that is not part of an escape sequence. */
const REPLACEMENT = '\ufffd';

/** Secrets shorter than this are not searched for: replacing them would garble every message. */
const MIN_SECRET_LENGTH = 4;

/** ESC sequences: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ST`), DCS/SOS/PM/APC strings, and two-character escapes. */
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -~])?/g;
/** The 8-bit CSI and its parameters. */
const C1_SEQUENCE = /\x9b[0-?]*[ -/]*[@-~]?/g;
/**
 * C0 (but tab and newline, handled apart), DEL, C1, and the Unicode controls that reorder or
 * break lines on display (bidi embeddings, overrides and isolates; line and paragraph separators).
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** `Basic <base64>` and `Bearer <token>`, wherever a registry echoes them. */
const AUTHORIZATION_VALUE = /\b(Basic|Bearer)(\s+)[A-Za-z0-9+/=._~-]{6,}/gi;
/** Signed-URL and token parameters (`X-Amz-Signature=...`, `access_token=...`). */
const SECRET_PARAMETER = /\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|sig|access_token|refresh_token|token|password)=([^&\s"'<>]+)/gi;

/** How a text may be laid out where it goes. */
export interface CleanOptions {
  /** Keep newlines and tabs (a multi-line log field); otherwise they become spaces. @default false */
  readonly multiline?: boolean;
}

/**
 * Secrets and control characters out of texts. One per copy (or per handler invocation, or per
 * CLI run): whoever learns a secret adds it, and every text on its way out goes through
 * {@link text} (or {@link error}, {@link event}).
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** @param secrets secrets known up front (a password given on the command line, an external id) */
  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) {
      this.add(secret);
    }
  }

  /** Adds a secret, with the forms an echo may take: JSON-escaped, URL-encoded. */
  public add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) {
      return;
    }
    this.secrets.add(secret);
    this.secrets.add(JSON.stringify(secret).slice(1, -1));
    this.secrets.add(encodeURIComponent(secret));
  }

  /** Adds a username's password, `user:password`, and its Basic encoding. */
  public addCredentials(credentials: { readonly username: string; readonly password: string }): void {
    const pair = `${credentials.username}:${credentials.password}`;
    this.add(credentials.password);
    this.add(pair);
    this.add(Buffer.from(pair, 'utf8').toString('base64'));
  }

  /** The text without secrets and control characters. */
  public text(text: string, options: CleanOptions = {}): string {
    // Controls first: an escape sequence spliced into an echoed secret must not hide it.
    let out = stripControls(text, options.multiline ?? false);
    // Longest first: a secret that contains another is replaced whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(secret)) {
        out = out.split(secret).join(REDACTED);
      }
    }
    return out
      .replace(AUTHORIZATION_VALUE, (_m, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
      .replace(SECRET_PARAMETER, (_m, name: string) => `${name}=${REDACTED}`);
  }

  /**
   * The error with its message (and stack) cleaned in place, so that whoever prints it, its
   * message or its stack prints nothing else. Returns it for `throw redactor.error(e)`.
   */
  public error<T>(error: T): T {
    if (error instanceof Error) {
      const original = error.message;
      const cleaned = this.text(original);
      error.message = cleaned;
      if (typeof error.stack === 'string') {
        // The stack starts with the message as it was when the error was made.
        const frames = error.stack.includes(original) ? error.stack.split(original).join(cleaned) : error.stack;
        error.stack = this.text(frames, { multiline: true });
      }
    }
    return error;
  }

  /** A progress event with its message cleaned. */
  public event(event: CopyProgressEvent): CopyProgressEvent {
    return event.message === undefined ? event : { ...event, message: this.text(event.message) };
  }

  /** Every string in a log line's fields cleaned (objects and arrays walked, other values kept). */
  public fields(value: unknown): unknown {
    if (typeof value === 'string') {
      return this.text(value, { multiline: true });
    }
    if (Array.isArray(value)) {
      return value.map(v => this.fields(v));
    }
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const out: { [key: string]: unknown } = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = this.fields(v);
      }
      return out;
    }
    return value;
  }
}

/** Removes escape sequences and replaces other control characters; tabs and newlines become spaces unless `multiline`. */
export function stripControls(text: string, multiline: boolean): string {
  let out = text.replace(ESCAPE_SEQUENCE, '').replace(C1_SEQUENCE, '');
  out = multiline ? out.replace(/\r\n?/g, '\n') : out.replace(/\r\n|[\r\n\t]/g, ' ');
  return out.replace(CONTROL, REPLACEMENT);
}
