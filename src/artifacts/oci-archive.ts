/**
 * An artifact as an `oci-archive`: its OCI image layout as one uncompressed tar file (the form
 * skopeo's `oci-archive:` transport reads), written deterministically, and read back with every
 * limit and every digest checked. Pure: no network, no CDK.
 */
import { OciArtifact, ociLayoutFiles } from './oci';
import { OciLayoutError, readLayoutImage } from './oci-image';
import { ArchiveError, readTarArchive, writeTar } from './tar';

/**
 * The largest archive read back: the sync function holds it in memory (twice, while it parses),
 * within its default 1 GiB.
 */
export const MAX_OCI_ARCHIVE_BYTES = 256 * 1024 * 1024;
const MAX_OCI_ARCHIVE_ENTRIES = 10_000;

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
 * The artifact whose manifest has `expectedDigest`, read from an `oci-archive`: the manifest, the
 * manifests below it (an index's) and every blob they name are checked against their digests and
 * sizes before anything is returned.
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
      // Tools that archive a layout directory as `.` write `./oci-layout`.
      const name = entry.name.replace(/^(\.\/)+/, '');
      if (files.has(name)) {
        throw new OciArchiveError(`${name} is in the archive twice`);
      }
      files.set(name, entry.data);
    }
  } catch (err) {
    if (err instanceof ArchiveError) {
      throw new OciArchiveError(`not an oci-archive: ${err.message}`);
    }
    throw err;
  }
  try {
    return readLayoutImage((name) => files.get(name), { digest: expectedDigest, maxBytes });
  } catch (err) {
    if (err instanceof OciLayoutError) {
      throw new OciArchiveError(err.message);
    }
    throw err;
  }
}
