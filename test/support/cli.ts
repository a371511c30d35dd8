import { PassThrough } from 'stream';
import { Io } from '../../src/cli/args';

/** What a command printed, and its exit code. */
export interface CommandRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command of the CLI, run in-process. */
export type Command = (argv: string[], io: Io) => Promise<number>;

/**
 * A stream that keeps what is written to it. `terminal` is assigned to the stream (e.g.
 * `{ isTTY: true, columns: 200 }`) to make it look like a terminal.
 */
export function captureStream(terminal?: { readonly isTTY: boolean; readonly columns?: number }): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  if (terminal) {
    Object.assign(stream, terminal);
  }
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Runs the command on streams it captures, with this environment only; stderr may look like a terminal. */
export async function runCommand(
  command: Command, argv: string[], env: NodeJS.ProcessEnv = {}, options: { readonly ttyStderr?: boolean } = {},
): Promise<CommandRun> {
  const out = captureStream();
  const err = captureStream(options.ttyStderr ? { isTTY: true } : undefined);
  const code = await command(argv, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}
