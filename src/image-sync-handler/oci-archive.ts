/**
 * An artifact packed at synth time (a Helm chart, a file bundle), pushed from its `oci-archive`
 * file asset: the archive is read from S3 within a size limit, every blob is checked against its
 * digest and the manifest against the digest the stack was synthesized with, then the artifact is
 * pushed with the engine's own client, the tag last. A tampered or truncated archive pushes nothing.
 */
import { MAX_OCI_ARCHIVE_BYTES, OciArchiveError, readOciArchive } from '../artifacts/oci-archive';
import { CopyResult } from '../sync';
import { destinationCredentials } from './credentials';
import { Invocation, ObjectTooLargeError, engineOptions } from './dependencies';
import { awsErrorText } from './failures';
import { SyncRequest, sourceName } from './request';
import { PushableArtifact, PushArtifactResult, pushArtifact } from '../sync/push';

/**
 * Pushes the archive's artifact to the destination tag; `complete: false` when the deadline
 * stopped it (the tag was not written, the next poll resumes).
 *
 * @throws Error saying what is wrong with the archive, or the engine's CopyError
 */
export async function pushFromArchive(sync: SyncRequest, inv: Invocation, deadline: number): Promise<CopyResult> {
  const { deps } = inv;
  const { bucket, key } = sync.archive!;
  const expected = sync.expectedSourceDigest!;
  let bytes: Buffer;
  try {
    bytes = await deps.readObject({ bucket, key, maxBytes: MAX_OCI_ARCHIVE_BYTES });
  } catch (e) {
    if (e instanceof ObjectTooLargeError) {
      throw new Error(`the archive is refused: ${e.message}. Nothing was pushed; push an artifact this large from CI with the command line.`);
    }
    throw new Error(
      `could not read the archive (s3:GetObject): ${awsErrorText(e)}. Check that the stack's file assets were published ` +
      '(cdk deploy publishes them) and that the sync function\'s role may read this object.',
    );
  }
  let artifact;
  try {
    artifact = readOciArchive(bytes, expected);
  } catch (e) {
    if (e instanceof OciArchiveError) {
      throw new Error(
        `the archive is not the artifact ${expected} the stack was synthesized with: ${e.message}. ` +
        'Nothing was pushed; synthesize and deploy again so the asset and the digest match.',
      );
    }
    throw e;
  }
  inv.log('pushing the archive\'s artifact', { source: sourceName(sync), digest: artifact.digest, blobs: artifact.blobs.size });
  const pushed = await pushArtifact({
    artifact,
    destination: sync.destination,
    credentials: destinationCredentials(sync, deps, deadline),
    ...engineOptions(inv, deadline),
  });
  return pushResult(artifact, pushed);
}

/** A push's result as the handler reports a copy's. */
export function pushResult(artifact: PushableArtifact, pushed: PushArtifactResult): CopyResult {
  const children = artifact.children ?? [];
  const manifests = 1 + children.length;
  const size = [artifact.manifest, ...children.map((c) => c.manifest), ...artifact.blobs.values()].reduce((n, b) => n + b.length, 0);
  return {
    complete: pushed.complete,
    digest: pushed.digest,
    sourceDigest: pushed.digest,
    mediaType: pushed.mediaType,
    size,
    tag: pushed.tag,
    platforms: [],
    bytesCopied: pushed.bytesPushed,
    blobsCopied: pushed.blobsPushed,
    blobsSkipped: pushed.blobsSkipped,
    blobsMounted: 0,
    manifestsCopied: pushed.complete && !pushed.alreadyPresent ? manifests : 0,
    manifestsSkipped: pushed.alreadyPresent ? manifests : 0,
    alreadyPresent: pushed.alreadyPresent,
    bytesTransferred: pushed.bytesPushed,
    interrupted: [],
  };
}
