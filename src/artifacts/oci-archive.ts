/**
 * An artifact as an `oci-archive`: its OCI image layout as one uncompressed tar file (the form
 * skopeo's `oci-archive:` transport reads), written deterministically, and read back with every
 * limit and every digest checked. Pure: no network, no CDK.
 */
import { ANNOTATION_REF_NAME, OCI_MANIFEST, OciArtifact, ociLayoutFiles, sha256 } from './oci';
import { ArchiveError, readTarArchive, writeTar } from './tar';

/**
 * The largest archive read back: the sync function holds it in memory (twice, while it parses),
 * within its default 1 GiB.
 */
export const MAX_OCI_ARCHIVE_BYTES = 256 * 1024 * 1024;
const MAX_OCI_ARCHIVE_ENTRIES = 10_000;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** An archive that is not the artifact it should be. */
export class OciArchiveError extends Error {}

/** The artifact's OCI image layout as one tar file; the same artifact gives the same bytes. */
export function writeOciArchive(artifact: OciArtifact): Buffer {
  return writeTar(ociLayoutFiles(artifact));
}

export interface ReadOciArchiveOptions {
  /** @default MAX_OCI_ARCHIVE_BYTES */
  readonly maxBytes?: number;
}

/**
 * The artifact whose manifest has `expectedDigest`, read from an `oci-archive`: the manifest and
 * every blob it names are checked against their digests and sizes before anything is returned.
 *
 * @throws OciArchiveError naming what is wrong
 */
export function readOciArchive(archive: Buffer, expectedDigest: string, options: ReadOciArchiveOptions = {}): OciArtifact {
  const maxBytes = options.maxBytes ?? MAX_OCI_ARCHIVE_BYTES;
  const files = new Map<string, Buffer>();
  try {
    for (const entry of readTarArchive(archive, { maxBytes, maxEntries: MAX_OCI_ARCHIVE_ENTRIES })) {
      if (entry.type !== 'file') {
        continue;
      }
      if (files.has(entry.name)) {
        throw new OciArchiveError(`${entry.name} is in the archive twice`);
      }
      files.set(entry.name, entry.data);
    }
  } catch (err) {
    if (err instanceof ArchiveError) {
      throw new OciArchiveError(`not an oci-archive: ${err.message}`);
    }
    throw err;
  }
  const layout = json(files, 'oci-layout') as { imageLayoutVersion?: unknown };
  if (layout?.imageLayoutVersion !== '1.0.0') {
    throw new OciArchiveError(`oci-layout names imageLayoutVersion ${JSON.stringify(layout?.imageLayoutVersion)}, not "1.0.0"`);
  }
  const index = json(files, 'index.json') as { manifests?: Descriptor[] };
  const manifests = Array.isArray(index?.manifests) ? index.manifests : [];
  const named = manifests.find(d => d?.digest === expectedDigest);
  if (!named) {
    const found = manifests.map(d => String(d?.digest)).join(', ') || 'none';
    throw new OciArchiveError(`index.json does not name the manifest ${expectedDigest} (it names ${found})`);
  }
  if (named.mediaType !== OCI_MANIFEST) {
    throw new OciArchiveError(`the manifest ${expectedDigest} is a ${JSON.stringify(named.mediaType)}, not an ${OCI_MANIFEST}`);
  }
  const manifest = blob(files, named, 'the manifest');
  let parsed: { config?: Descriptor; layers?: Descriptor[] };
  try {
    parsed = JSON.parse(manifest.toString('utf8'));
  } catch {
    throw new OciArchiveError(`the manifest ${expectedDigest} is not JSON`);
  }
  if (!parsed?.config || !Array.isArray(parsed.layers)) {
    throw new OciArchiveError(`the manifest ${expectedDigest} has no config or no layers`);
  }
  const blobs = new Map<string, Buffer>();
  for (const [k, d] of [parsed.config, ...parsed.layers].entries()) {
    blobs.set(String(d?.digest), blob(files, d, k === 0 ? 'the config' : `layer ${k}`));
  }
  const tag = named.annotations?.[ANNOTATION_REF_NAME];
  return { manifest, mediaType: OCI_MANIFEST, digest: expectedDigest, blobs, tag: typeof tag === 'string' ? tag : '' };
}

interface Descriptor {
  readonly mediaType?: unknown;
  readonly digest?: unknown;
  readonly size?: unknown;
  readonly annotations?: { readonly [key: string]: unknown };
}

function json(files: ReadonlyMap<string, Buffer>, name: string): unknown {
  const bytes = files.get(name);
  if (!bytes) {
    throw new OciArchiveError(`${name} is missing; an oci-archive holds oci-layout, index.json and blobs/sha256/`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new OciArchiveError(`${name} is not JSON`);
  }
}

/** A blob's bytes, checked against its descriptor's digest and size. */
function blob(files: ReadonlyMap<string, Buffer>, d: Descriptor | undefined, what: string): Buffer {
  const digest = d?.digest;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new OciArchiveError(`${what} has the digest ${JSON.stringify(digest)}, not a sha256 digest`);
  }
  const bytes = files.get(`blobs/sha256/${digest.slice('sha256:'.length)}`);
  if (!bytes) {
    throw new OciArchiveError(`${what} ${digest} is missing from blobs/sha256/`);
  }
  if (d?.size !== bytes.length) {
    throw new OciArchiveError(`${what} ${digest} is ${bytes.length} bytes, its descriptor says ${JSON.stringify(d?.size)}`);
  }
  const actual = sha256(bytes);
  if (actual !== digest) {
    throw new OciArchiveError(`${what} ${digest} does not match its bytes, which hash to ${actual}`);
  }
  return bytes;
}
