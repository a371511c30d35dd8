import { regionOf } from './credentials';
import { Invocation } from './dependencies';
import { awsErrorText } from './failures';
import { DeleteRequest } from './request';
import { parseEcrRegistry } from '../private/ecr-names';

/** What ECR answers for an image id that names nothing to remove: the tag is gone, or has moved on. */
const NOTHING_TO_REMOVE = new Set(['ImageNotFound', 'ImageTagDoesNotMatchDigest']);

/**
 * Delete: keep the image, unless the properties opt in to removal, this resource wrote the tag,
 * and the tag still names the digest it copied; then remove the tag. One BatchDeleteImage names
 * the tag and the digest together, so ECR itself refuses when the tag has moved
 * (`ImageTagDoesNotMatchDigest`): no window between a check and the removal. A tag or repository
 * already gone is success.
 */
export async function removeOnDelete(request: DeleteRequest, { deps, log }: Invocation): Promise<void> {
  if (!request.sync) {
    log('delete: properties unreadable, keeping whatever exists');
    return;
  }
  const copied = request.copied;
  if (!request.sync.removeOnDelete || !copied) {
    log('delete: keeping the image', { removeOnDelete: request.sync.removeOnDelete, physicalResourceId: request.physicalId });
    return;
  }
  const registry = copied.repositoryUri.slice(0, copied.repositoryUri.indexOf('/'));
  const repositoryName = copied.repositoryUri.slice(registry.length + 1);
  if (!copied.written) {
    log('delete: the tag was in place before this resource, keeping it', { repositoryName, tag: copied.tag, digest: copied.digest });
    return;
  }
  const tag = {
    region: regionOf(registry, deps), registryId: parseEcrRegistry(registry)?.account, repositoryName, tag: copied.tag, digest: copied.digest,
  };
  let failures;
  try {
    failures = await deps.deleteTag(tag);
  } catch (e) {
    if ((e as { name?: string }).name === 'RepositoryNotFoundException') {
      log('delete: repository already gone', { repositoryName });
      return;
    }
    throw removalFailure(copied.tag, copied.repositoryUri, e);
  }
  const failure = failures.find((f) => !NOTHING_TO_REMOVE.has(f.failureCode ?? ''));
  if (failure) {
    throw removalFailure(copied.tag, copied.repositoryUri, Object.assign(new Error(`${failure.failureCode}: ${failure.failureReason}`), { name: failure.failureCode }));
  }
  if (failures.length > 0) {
    log('delete: tag already gone or moved to another image, keeping it', {
      repositoryName, tag: copied.tag, ours: copied.digest, failureCode: failures[0].failureCode,
    });
    return;
  }
  log('delete: removed the tag', { repositoryName, tag: copied.tag, digest: copied.digest });
}

function removalFailure(tag: string, repositoryUri: string, e: unknown): Error {
  return new Error(
    `Could not remove tag ${tag} from ${repositoryUri}: ${awsErrorText(e)}. ` +
    'Grant the sync function ecr:BatchDeleteImage on the repository, or set removeOnDelete to false to keep the image.',
  );
}
