/**
 * Destination first: before anything touches the tenant (no AssumeRole, no source request), an
 * Update, and a Create that pins a digest, ask the install's own repository whether it already
 * holds what was asked. A rollback is an Update to properties that once succeeded, so it never
 * needs the tenant: a revoked access role or a rotated external id cannot leave a stack stuck in
 * UPDATE_ROLLBACK_FAILED when the destination already holds the image.
 *
 * What counts as "already holds":
 * - a pinned digest (by the source reference or an expected source digest; no platform subset):
 *   the tag names it; or the repository holds the digest
 *   and only the tag is missing or elsewhere, then the tag is written from the destination's own
 *   copy (a copy within the repository, no source involved);
 * - an Update naming its source by tag: the destination has that tag, the source's tag has the
 *   same name (the install keeps the release's own name), and the repository keeps the tag
 *   immutable. No copy could then change the destination: it would end with this digest or fail.
 *
 * Anything else, or any failure to tell, goes to the source as before.
 *
 * With referrers on, an answer from the destination is followed by the source's referrers of the
 * image (signatures or SBOMs added since the first copy), best effort: the image's manifests are
 * read from the destination's copy, only the referrers from the source. A source that cannot be
 * reached (the reason to ask the destination first) is logged, not a failure.
 */
import { isDigest } from '../image-reference';
import { parseEcrRegistry } from '../private/ecr-names';
import { CopyResult, ManifestInfo, StoppedError, copyImage, copyReferrersOf, inspectManifest } from '../sync';
import { destinationCredentials, regionOf, sourceCredentials } from './credentials';
import { Invocation, TagMutability, engineOptions } from './dependencies';
import { awsErrorText } from './failures';
import { CopyRequest } from './request';

/** What the destination answered. */
export type DestinationAnswer = Pick<CopyResult, 'digest' | 'mediaType' | 'bytesCopied' | 'blobsCopied' | 'blobsSkipped' | 'alreadyPresent'>;

/**
 * The destination's answer to the request, 'stopped' when the deadline came while it wrote the
 * tag, or undefined when only the source can answer.
 */
export async function fromDestination(request: CopyRequest, inv: Invocation, deadline: number): Promise<DestinationAnswer | 'stopped' | undefined> {
  const answer = await ask(request, inv, deadline);
  // An archive's source is S3: its referrers, if any, came with the archive.
  if (answer && answer !== 'stopped' && request.sync.copyReferrers && !request.sync.archive) {
    await carryReferrers(request, inv, deadline, answer.digest);
  }
  return answer;
}

async function ask(request: CopyRequest, inv: Invocation, deadline: number): Promise<DestinationAnswer | 'stopped' | undefined> {
  const { sync } = request;
  // An expected digest pins the release like a source digest does: the destination holding it
  // under the tag is the release, whatever the source tag names now.
  const pinned = sync.source.digest ?? sync.expectedSourceDigest;
  try {
    if (pinned) {
      if (sync.platforms) {
        inv.log('destination first: a platform subset has a digest of its own, which only the source can tell');
        return undefined;
      }
      return await byDigest(request, inv, pinned, deadline);
    }
    if (request.requestType !== 'Update') {
      return undefined;
    }
    if (sync.source.tag !== sync.destination.tag) {
      inv.log('destination first: the destination tag is not the source tag, asking the source', { tag: sync.destination.tag });
      return undefined;
    }
    return await byImmutableTag(request, inv);
  } catch (e) {
    if (e instanceof StoppedError) {
      return 'stopped';
    }
    inv.log('destination first: could not tell, asking the source', { reason: (e as Error)?.message ?? String(e) });
    return undefined;
  }
}

async function byDigest(request: CopyRequest, inv: Invocation, digest: string, deadline: number): Promise<DestinationAnswer | 'stopped' | undefined> {
  const { sync } = request;
  const tagged = await inspect(request, inv, { tag: sync.destination.tag });
  if (tagged?.digest === digest) {
    inv.log('destination first: the tag already names the pinned digest; the source was not asked', { digest });
    return present(tagged);
  }
  if (!await inspect(request, inv, { digest })) {
    return undefined;
  }
  if (sync.verificationPublicKeys || sync.verificationSigstore) {
    // Moving the tag is what the verification policy guards: it checks the source's signatures first.
    inv.log('destination first: the repository holds the digest, but the tag moves only after the source\'s signatures verify', { digest });
    return undefined;
  }
  // The repository holds the image: the tag is written from its own copy, children checked first.
  const credentials = destinationCredentials(sync, inv.deps, deadline);
  const destination = { registry: sync.destination.registry, repository: sync.destination.repository };
  const result = await copyImage({
    source: { ...destination, digest },
    destination: { ...destination, tag: sync.destination.tag },
    sourceCredentials: credentials,
    destinationCredentials: credentials,
    ...engineOptions(inv, deadline),
  });
  if (!result.complete) {
    return 'stopped';
  }
  inv.log('destination first: tagged the pinned digest the repository already held; the source was not asked', { digest });
  return result;
}

async function byImmutableTag(request: CopyRequest, inv: Invocation): Promise<DestinationAnswer | undefined> {
  const { sync } = request;
  const tagged = await inspect(request, inv, { tag: sync.destination.tag });
  if (!tagged) {
    return undefined;
  }
  const ecr = parseEcrRegistry(sync.destination.registry);
  if (!ecr) {
    inv.log('destination first: not an ECR repository, its tag mutability is unknown; asking the source');
    return undefined;
  }
  let mutability: TagMutability | undefined;
  try {
    mutability = await inv.deps.tagMutability({
      region: regionOf(sync.destination.registry, inv.deps), registryId: ecr.account, repositoryName: sync.destinationRepositoryName,
    });
  } catch (e) {
    inv.log('destination first: could not read the repository\'s tag mutability (ecr:DescribeRepositories); asking the source', { reason: awsErrorText(e) });
    return undefined;
  }
  if (!mutability || !isImmutableTag(sync.destination.tag, mutability)) {
    inv.log('destination first: the tag can move, asking the source', { tag: sync.destination.tag, mutability: mutability?.mutability });
    return undefined;
  }
  inv.log('destination first: the immutable tag is in place; the source was not asked', { tag: sync.destination.tag, digest: tagged.digest });
  return present(tagged);
}

/** The source's referrers of the image the destination holds, best effort within the deadline. */
async function carryReferrers(request: CopyRequest, inv: Invocation, deadline: number, digest: string): Promise<void> {
  const { sync } = request;
  const { deps } = inv;
  try {
    const referrers = await copyReferrersOf({
      source: sync.source,
      destination: sync.destination,
      sourceCredentials: await sourceCredentials(sync, request.logicalId, inv, deadline),
      destinationCredentials: destinationCredentials(sync, deps, deadline),
      ...engineOptions(inv, deadline),
    }, digest);
    if (!referrers) {
      inv.log('destination first: the deadline came before the source\'s referrers were carried; the next sync carries them', { digest });
      return;
    }
    inv.log('destination first: carried the source\'s referrers of the image', {
      digest, referrersCopied: referrers.copied, referrersFound: referrers.found,
    });
  } catch (e) {
    inv.log('destination first: could not carry the source\'s referrers; the image is in place, the sync goes on', {
      digest, reason: (e as Error)?.message ?? String(e),
    });
  }
}

/** Whether a repository keeps `tag` from moving, by its mutability setting and exclusion filters. */
export function isImmutableTag(tag: string, m: TagMutability): boolean {
  const excluded = m.exclusions.some((filter) => wildcard(filter).test(tag));
  switch (m.mutability) {
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !excluded;
    case 'MUTABLE_WITH_EXCLUSION':
      return excluded;
    default:
      return false;
  }
}

function wildcard(filter: string): RegExp {
  return new RegExp(`^${filter.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

async function inspect(request: CopyRequest, inv: Invocation, ref: { tag?: string; digest?: string }): Promise<ManifestInfo | undefined> {
  const { sync } = request;
  const info = await inspectManifest(
    { registry: sync.destination.registry, repository: sync.destination.repository, ...ref },
    destinationCredentials(sync, inv.deps),
    { dial: inv.deps.dial, plainHttp: inv.deps.plainHttp, redactor: inv.redactor },
  );
  return info && isDigest(info.digest) ? info : undefined;
}

function present(info: ManifestInfo): DestinationAnswer {
  return { digest: info.digest, mediaType: info.mediaType, bytesCopied: 0, blobsCopied: 0, blobsSkipped: 0, alreadyPresent: true };
}
