/**
 * A chart version of a classic Helm repository, pushed as Helm's OCI chart artifact: the index and
 * the archive are read within their size limits, the archive is checked against the index's
 * sha256 (and the chart inside against the name and version asked for), then the archive's bytes
 * are pushed unchanged, with `created` from the index entry so the digest is the one `chart import`
 * gives. A mismatch, or an artifact other than the pinned one, pushes nothing.
 */
import { chartArtifact } from '../artifacts/chart';
import { CopyError, CopyResult, CredentialSource, StoppedError } from '../sync';
import { destinationCredentials } from './credentials';
import { Invocation, engineOptions } from './dependencies';
import { pushResult } from './oci-archive';
import { SyncRequest, sourceName } from './request';
import { fetchHelmChart } from '../sync/helm-repository';
import { pushArtifact } from '../sync/push';

/** How long reading the index and the archive may take, at most, within the invocation's deadline. */
const FETCH_TIMEOUT_MS = 5 * 60_000;

/**
 * Pushes the chart to the destination tag; `complete: false` when the deadline stopped the push
 * (the tag was not written, the next poll starts again).
 *
 * @throws CopyError NOT_FOUND, DIGEST_MISMATCH, INVALID, LIMIT, UNEXPECTED_DIGEST, or the network's failures
 */
export async function pushFromHelmRepository(
  sync: SyncRequest, inv: Invocation, deadline: number, credentials: CredentialSource | undefined,
): Promise<CopyResult> {
  const { repoUrl, chart, version } = sync.helm!;
  const engine = engineOptions(inv, deadline);
  const repoCredentials = await credentials?.(new URL(repoUrl).host);
  const timeoutMs = Math.min(FETCH_TIMEOUT_MS, deadline - Date.now());
  if (timeoutMs <= 0) {
    throw new StoppedError('deadline');
  }
  let fetched;
  try {
    fetched = await fetchHelmChart({
      repoUrl,
      chart,
      version,
      credentials: repoCredentials,
      plainHttp: engine.plainHttp,
      signal: AbortSignal.timeout(timeoutMs),
      redactor: inv.redactor,
      onRetry: (message) => inv.log(message),
    });
  } catch (e) {
    if (e instanceof StoppedError && Date.now() < deadline - 1000) {
      // The fetch's own timeout, not the invocation's deadline: a repository this slow fails the release.
      throw new CopyError('NETWORK', `reading the index and the archive of ${sourceName(sync)} took more than ${FETCH_TIMEOUT_MS / 60_000} minutes; nothing was pushed`);
    }
    throw e;
  }
  const artifact = chartArtifact(fetched.chart, { created: fetched.entry.created });
  const expected = sync.expectedSourceDigest;
  if (expected !== undefined && artifact.digest !== expected) {
    throw new CopyError('UNEXPECTED_DIGEST',
      `${sourceName(sync)} gives the chart artifact ${artifact.digest}, not the expected ${expected} (the archive matches the index's `
      + `sha256 ${fetched.entry.digest}, so the repository now serves another archive or another created time for this version); nothing was pushed.`);
  }
  inv.log('pushing the chart from the Helm repository', { source: sourceName(sync), archiveDigest: fetched.entry.digest, digest: artifact.digest });
  const pushed = await pushArtifact({
    artifact,
    destination: sync.destination,
    credentials: destinationCredentials(sync, inv.deps, deadline),
    ...engine,
  });
  return pushResult(artifact, pushed);
}
