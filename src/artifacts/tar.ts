/**
 * Deterministic tar+gzip: the same files always give the same bytes (fixed modes, owners and
 * times, entries in the order given, gzip without a name or a time), and a bounded reader for
 * the archives others packed.
 */
import * as zlib from 'zlib';

export interface TarEntry {
  /** Path inside the archive, `/`-separated, no leading `/`. */
  readonly name: string;
  readonly data: Buffer;
}

export interface TarOptions {
  /** Modification time of every entry, seconds since the epoch. Default 0. */
  readonly mtime?: number;
}

/** Every file's mode: what `helm package` writes. */
const FILE_MODE = 0o644;
const BLOCK = 512;

/** A ustar archive of the entries, in the order given (a PAX header for paths ustar cannot hold). */
export function writeTar(entries: readonly TarEntry[], options: TarOptions = {}): Buffer {
  const mtime = options.mtime ?? 0;
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const split = splitUstarName(entry.name);
    if (!split) {
      const record = paxRecord('path', entry.name);
      parts.push(header({ name: 'PaxHeader', size: record.length, type: 'x', mtime }));
      parts.push(record, padding(record.length));
    }
    parts.push(header({ ...(split ?? { name: Buffer.from(entry.name).subarray(0, 100).toString('latin1'), prefix: '' }), size: entry.data.length, type: '0', mtime }));
    parts.push(entry.data, padding(entry.data.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** gzip with fixed header fields (no name, time 0) at the best compression. */
export function gzip(data: Buffer): Buffer {
  return zlib.gzipSync(data, { level: 9 });
}

function header(h: { name: string; prefix?: string; size: number; type: string; mtime: number }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  octal(b, 100, 8, FILE_MODE);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.fill(' ', 148, 156);
  b.write(h.type, 156);
  b.write('ustar\0', 257);
  b.write('00', 263);
  if (h.prefix) {
    b.write(h.prefix, 345, 155, 'utf8');
  }
  let sum = 0;
  for (const byte of b) {
    sum += byte;
  }
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return b;
}

function octal(b: Buffer, offset: number, length: number, value: number): void {
  b.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'latin1');
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** ustar's name (100 bytes) and prefix (155 bytes) for a path, split at a `/`; undefined when it does not fit. */
function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(name) <= 100) {
    return { name, prefix: '' };
  }
  for (let k = name.indexOf('/'); k >= 0; k = name.indexOf('/', k + 1)) {
    const prefix = name.slice(0, k);
    const rest = name.slice(k + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') {
      return { name: rest, prefix };
    }
  }
  return undefined;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return Buffer.from(`${length}${body}`);
}

export interface ReadTarOptions {
  /** Bytes of the whole archive once uncompressed. */
  readonly maxBytes: number;
  /** Entries of any kind. */
  readonly maxEntries: number;
}

export interface ReadEntry {
  readonly name: string;
  /** `file`, `directory`, or `other` (links, devices: no data). */
  readonly type: 'file' | 'directory' | 'other';
  readonly data: Buffer;
}

/** An archive's bytes that are not tar+gzip within the limits. */
export class ArchiveError extends Error {}

/**
 * The entries of a tar+gzip archive (ustar, PAX and GNU long names).
 *
 * @throws ArchiveError when it is not gzip, not tar, or larger than the limits
 */
export function readTarGz(archive: Buffer, options: ReadTarOptions): ReadEntry[] {
  if (archive.length < 2 || archive[0] !== 0x1f || archive[1] !== 0x8b) {
    throw new ArchiveError('not a gzip file');
  }
  let tar: Buffer;
  try {
    tar = zlib.gunzipSync(archive, { maxOutputLength: options.maxBytes });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ArchiveError(code === 'ERR_BUFFER_TOO_LARGE'
      ? `more than ${options.maxBytes} bytes once uncompressed`
      : `not valid gzip (${(err as Error).message})`);
  }
  return readTar(tar, options.maxEntries);
}

/**
 * The entries of an uncompressed tar archive (ustar, PAX and GNU long names), such as an
 * `oci-archive`.
 *
 * @throws ArchiveError when it is not tar or larger than the limits
 */
export function readTarArchive(tar: Buffer, options: ReadTarOptions): ReadEntry[] {
  if (tar.length > options.maxBytes) {
    throw new ArchiveError(`${tar.length} bytes, more than the ${options.maxBytes} allowed`);
  }
  return readTar(tar, options.maxEntries);
}

function readTar(tar: Buffer, maxEntries: number): ReadEntry[] {
  const out: ReadEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let count = 0;
  while (offset + BLOCK <= tar.length) {
    const h = tar.subarray(offset, offset + BLOCK);
    if (h.every(byte => byte === 0)) {
      break;
    }
    if (++count > maxEntries) {
      throw new ArchiveError(`more than ${maxEntries} entries`);
    }
    if (!checksumMatches(h)) {
      throw new ArchiveError(`not a tar archive (bad header checksum at byte ${offset})`);
    }
    const size = parseOctal(h.subarray(124, 136));
    const type = String.fromCharCode(h[156] || 0x30);
    const dataStart = offset + BLOCK;
    if (dataStart + size > tar.length) {
      throw new ArchiveError('truncated tar archive');
    }
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'g') {
      continue;
    }
    let name = longName ?? ustarName(h);
    longName = undefined;
    name = name.replace(/^\.\//, '');
    out.push({
      name,
      type: type === '0' || type === '7' ? 'file' : type === '5' ? 'directory' : 'other',
      data: Buffer.from(data),
    });
  }
  return out;
}

function ustarName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  const magic = h.subarray(257, 263).toString('latin1');
  const prefix = magic.startsWith('ustar') ? cString(h.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

function parseOctal(b: Buffer): number {
  if (b[0] >= 0x80) {
    // GNU base-256 for large sizes.
    let v = 0;
    for (let k = 1; k < b.length; k++) {
      v = v * 256 + b[k];
    }
    return v;
  }
  const text = cString(b).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumMatches(h: Buffer): boolean {
  const stored = parseOctal(h.subarray(148, 156));
  let sum = 0;
  for (let k = 0; k < BLOCK; k++) {
    sum += k >= 148 && k < 156 ? 0x20 : h[k];
  }
  return sum === stored;
}

function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) {
      break;
    }
    const length = parseInt(data.subarray(pos, space).toString('latin1'), 10);
    if (!Number.isFinite(length) || length <= 0) {
      break;
    }
    const record = data.subarray(space + 1, pos + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') {
      path = record.slice(eq + 1);
    }
    pos += length;
  }
  return path;
}
