/**
 * An image from an OCI image layout (a directory, or an `oci-archive` tar of one) read at synth
 * time for an air-gapped `ImageSync`: the image is chosen by its ref name (or as the only one),
 * every manifest and blob is checked, and it is written again as a deterministic `oci-archive`
 * holding that image alone, the file asset the sync function pushes from.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isToken, ValidationProblems } from './validation';
import { OciArtifact, TAG_PATTERN } from '../artifacts/oci';
import { MAX_OCI_ARCHIVE_BYTES, writeOciArchive } from '../artifacts/oci-archive';
import { LayoutFiles, OciLayoutError, readLayoutImage } from '../artifacts/oci-image';
import { ArchiveError, readTarArchive, readTarGz } from '../artifacts/tar';

/** The largest layout archive read at synth (it may hold more images than the one synced). */
const MAX_INPUT_BYTES = 1024 * 1024 * 1024;
const MAX_INPUT_ENTRIES = 100_000;

/** The image of a layout, and the archive that carries it. */
export interface LayoutImage {
  readonly artifact: OciArtifact;
  /** The image alone, as an `oci-archive`: the same image gives the same bytes. */
  readonly archive: Buffer;
  /** The destination tag the layout suggests (its ref name, when that is a tag). */
  readonly tag?: string;
}

/**
 * The image of an `ImageSource.fromOciLayout` / `fromOciArchive`, its props checked first.
 *
 * @throws Error listing the problems, as the factory reports them
 */
export function readLayoutSource(factory: string, kind: 'directory' | 'archive', where: string, ref: string | undefined): LayoutImage {
  const p = new ValidationProblems(factory);
  const prop = kind === 'directory' ? 'directory' : 'file';
  if (typeof where !== 'string' || isToken(where)) {
    p.add(prop, where, 'a path known at synth time');
  }
  if (ref !== undefined && (typeof ref !== 'string' || isToken(ref) || ref === '')) {
    p.add('ref', ref, 'the literal ref name of an image in the layout\'s index.json');
  }
  p.throwIfAny();
  let image: LayoutImage | undefined;
  try {
    image = readImageLayout(path.resolve(where), kind, ref);
  } catch (e) {
    p.add(prop, where, `an OCI image layout ${kind} whose image can be synced: ${(e as Error).message}`);
  }
  p.throwIfAny();
  return image!;
}

/**
 * Reads the image. `kind` says what the path must be.
 *
 * @throws Error saying what is wrong with the path or the layout
 */
export function readImageLayout(where: string, kind: 'directory' | 'archive', ref: string | undefined): LayoutImage {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(where);
  } catch {
    throw new Error(`${where} does not exist`);
  }
  let files: LayoutFiles;
  if (kind === 'directory') {
    if (!stat.isDirectory()) {
      throw new Error(`${where} is not a directory (give an oci-archive file to ImageSource.fromOciArchive)`);
    }
    files = directoryFiles(where);
  } else {
    if (!stat.isFile()) {
      throw new Error(`${where} is not a file (give a layout directory to ImageSource.fromOciLayout)`);
    }
    if (stat.size > MAX_INPUT_BYTES) {
      throw new Error(`${where} is ${stat.size} bytes, more than the ${MAX_INPUT_BYTES} read at synth`);
    }
    files = archiveFiles(where);
  }
  if (files('oci-layout', 1024) === undefined && files('manifest.json', 1024 * 1024) !== undefined) {
    throw new Error(`${where} is a docker save archive of the old format (manifest.json, no oci-layout), which is not supported: `
      + 'save it with Docker 25 or later (which writes an OCI image layout), or convert it with '
      + '`skopeo copy docker-archive:IN.tar oci-archive:OUT.tar`');
  }
  let artifact: OciArtifact;
  try {
    artifact = readLayoutImage(files, { ref, maxBytes: MAX_OCI_ARCHIVE_BYTES });
  } catch (err) {
    if (err instanceof OciLayoutError || err instanceof ArchiveError) {
      throw new Error(`${where}: ${err.message}`);
    }
    throw err;
  }
  const tag = ref ?? (artifact.tag || undefined);
  const named = { ...artifact, tag: tag ?? '' };
  return { artifact: named, archive: writeOciArchive(named), tag: tag !== undefined && TAG_PATTERN.test(tag) ? tag : undefined };
}

function directoryFiles(dir: string): LayoutFiles {
  return (name, maxBytes) => {
    const file = path.join(dir, ...name.split('/'));
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return undefined;
    }
    if (size > maxBytes) {
      throw new OciLayoutError(`${name} is ${size} bytes, more than the ${maxBytes} expected`);
    }
    return fs.readFileSync(file);
  };
}

function archiveFiles(file: string): LayoutFiles {
  const bytes = fs.readFileSync(file);
  const options = { maxBytes: MAX_INPUT_BYTES, maxEntries: MAX_INPUT_ENTRIES };
  let entries;
  try {
    entries = bytes[0] === 0x1f && bytes[1] === 0x8b ? readTarGz(bytes, options) : readTarArchive(bytes, options);
  } catch (err) {
    if (err instanceof ArchiveError) {
      throw new Error(`${file} is not an oci-archive (a tar of an OCI image layout): ${err.message}`);
    }
    throw err;
  }
  const files = new Map<string, Buffer>();
  for (const entry of entries) {
    if (entry.type === 'file') {
      files.set(entry.name.replace(/^(\.\/)+/, ''), entry.data);
    }
  }
  return (name) => files.get(name);
}
