/**
 * What every command shares: where it writes, the usage error, and the reading of its words.
 */

/** Where a command writes, and the environment it reads; injected so tests can run commands in-process. */
export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** A command line that cannot be run as written: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** Which options a command takes. */
export interface ArgsSpec {
  /** Options that take a value, as `--name value` or `--name=value`. */
  readonly values: string[];
  /** Options without a value. */
  readonly flags: string[];
}

/** A command's words, read. */
export interface Args {
  readonly positional: string[];
  /** Each option's values, in order. */
  readonly values: Map<string, string[]>;
  readonly flags: Set<string>;
}

/**
 * Reads a command's words from left to right; `help` as soon as `-h` or `--help` comes.
 *
 * @throws UsageError on an unknown option or an option without its value
 */
export function parseArgs(argv: string[], spec: ArgsSpec): Args | 'help' {
  const args: Args = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    if (name === '-h' || name === '--help') {
      return 'help';
    }
    if (spec.values.includes(name)) {
      const value = eq > 0 ? word.slice(eq + 1) : argv[++i];
      if (value === undefined) {
        throw new UsageError(`${name} needs a value`);
      }
      args.values.set(name, [...(args.values.get(name) ?? []), value]);
    } else if (spec.flags.includes(name)) {
      args.flags.add(name);
    } else if (word.startsWith('-') && word !== '-') {
      throw new UsageError(`unknown option ${JSON.stringify(name)}`);
    } else {
      args.positional.push(word);
    }
  }
  return args;
}

/** The last value given for an option. */
export function lastValue(args: Args, name: string): string | undefined {
  const values = args.values.get(name);
  return values?.[values.length - 1];
}
