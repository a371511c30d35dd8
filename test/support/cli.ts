import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
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

/** The package's `bin`: the esbuild bundle of src/cli/index.ts that `npm test` builds first. */
export const BUNDLED_CLI = path.join(__dirname, '..', '..', 'assets', 'cli', 'index.js');

/**
 * Runs the bundled CLI as a process of its own, as `npx cdk-byoc-artifacts` would, with this
 * environment (by default the test's own).
 */
export function runBundledCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CommandRun> {
  if (!fs.existsSync(BUNDLED_CLI)) {
    throw new Error(`fails: ${BUNDLED_CLI} is missing; build the bundles first with 'npx projen bundle' (npm test does)`);
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [BUNDLED_CLI, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
