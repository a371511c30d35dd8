import { CopyProgressEvent } from '../../src/sync/copy';

/** Collects progress events, and finds secrets in any text the engine produced. */
export class Recorder {
  public readonly events: CopyProgressEvent[] = [];
  public readonly onProgress = (e: CopyProgressEvent) => {
    this.events.push(e);
  };

  public of(kind: CopyProgressEvent['kind']): CopyProgressEvent[] {
    return this.events.filter(e => e.kind === kind);
  }

  /** Every message the engine emitted, plus the given error messages. */
  public texts(...errors: unknown[]): string[] {
    return [
      ...this.events.map(e => JSON.stringify(e)),
      ...errors.map(e => (e instanceof Error ? `${e.message} ${e.stack ?? ''}` : String(e))),
    ];
  }
}

/** Fails the test with the offending text when a password, a Basic header value or a JWT appears. */
export function expectNoSecrets(texts: string[], secrets: (string | undefined)[]): void {
  const patterns: string[] = [];
  for (const s of secrets) {
    if (s) {
      patterns.push(s);
    }
  }
  for (const text of texts) {
    for (const p of patterns) {
      if (text.includes(p)) {
        throw new Error(`fails: a secret appears in ${JSON.stringify(text.slice(0, 300))}`);
      }
    }
    // Bearer tokens are JWTs: base64url of '{"' starts with 'eyJ'.
    if (/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/.test(text)) {
      throw new Error(`fails: a token appears in ${JSON.stringify(text.slice(0, 300))}`);
    }
  }
}

/** Base64 of user:password, as a Basic header would carry it. */
export function basicValue(username?: string, password?: string): string | undefined {
  return username && password ? Buffer.from(`${username}:${password}`).toString('base64') : undefined;
}
