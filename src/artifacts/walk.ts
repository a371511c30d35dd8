/**
 * The files of a directory in a fixed order (names sorted byte-wise in each directory, as Go's
 * filepath.Walk goes), symbolic links followed, bounded in size.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface WalkOptions {
  /** Whether to leave out a path (relative, `/`-separated). */
  readonly ignores: (relative: string, isDirectory: boolean) => boolean;
  /** The largest file. */
  readonly maxFileSize: number;
  /** All files together. */
  readonly maxTotalSize: number;
  /** How to leave a file out, for messages (e.g. `add it to .helmignore`). */
  readonly hint: string;
  /** How to name the limits in messages (e.g. `Helm's`). */
  readonly limitOwner?: string;
  /** The error to throw. */
  readonly error: (message: string) => Error;
}

export interface WalkedFile {
  /** Relative to the directory, `/`-separated. */
  readonly relative: string;
  readonly absolute: string;
}

/** Every regular file under `dir` the rules keep, in walk order. */
export function walkFiles(dir: string, options: WalkOptions): WalkedFile[] {
  const top = path.resolve(dir);
  const owner = options.limitOwner ? `${options.limitOwner} ` : '';
  const out: WalkedFile[] = [];
  let total = 0;
  const walk = (abs: string, rel: string, seen: Set<string>) => {
    const names = fs.readdirSync(abs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      let s: fs.Stats;
      try {
        s = fs.statSync(childAbs);
      } catch {
        throw options.error(`${dir}/${childRel}: a symbolic link to nothing; remove it or ${options.hint}`);
      }
      if (s.isDirectory()) {
        if (options.ignores(childRel, true)) {
          continue;
        }
        const real = fs.realpathSync(childAbs);
        if (seen.has(real)) {
          throw options.error(`${dir}/${childRel}: a symbolic link loop`);
        }
        walk(childAbs, childRel, new Set([...seen, real]));
        continue;
      }
      if (options.ignores(childRel, false)) {
        continue;
      }
      if (!s.isFile()) {
        throw options.error(`${dir}/${childRel}: not a regular file; ${options.hint}`);
      }
      if (s.size > options.maxFileSize) {
        throw options.error(`${dir}/${childRel}: ${s.size} bytes, more than ${owner}${options.maxFileSize} per file; ${options.hint}`);
      }
      total += s.size;
      if (total > options.maxTotalSize) {
        throw options.error(`${dir}: more than ${owner}${options.maxTotalSize} bytes in all; leave files out (${options.hint})`);
      }
      out.push({ relative: childRel, absolute: childAbs });
    }
  };
  walk(top, '', new Set([fs.realpathSync(top)]));
  return out;
}
