/**
 * How a command fails: a line on stderr, and with `--json` the same as
 * `{"error":{"code","message"}}` on stdout, so scripts read one shape for success and failure.
 */
import { Io } from './args';

/** A command's failure. */
export interface CommandFailure {
  /** The engine's error code (`UNAUTHORIZED`, `NETWORK`, ...), or the command's own (`USAGE`, `CONFIG`, `VERIFY`, `INCOMPLETE`). */
  readonly code: string;
  /** Already free of secrets and control characters. */
  readonly message: string;
  /** The exit status: 2 for usage errors, 1 otherwise. */
  readonly status: number;
  /** Printed after the message (on stderr) for usage errors. */
  readonly usage?: string;
}

/** Writes a failure and returns its exit status. */
export function reportFailure(io: Io, json: boolean, failure: CommandFailure): number {
  io.stderr.write(`${failure.message}\n${failure.usage ? `\n${failure.usage}` : ''}`);
  if (json) {
    io.stdout.write(JSON.stringify({ error: { code: failure.code, message: failure.message } }) + '\n');
  }
  return failure.status;
}
