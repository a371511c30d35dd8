import { regionOf } from './credentials';
import { HandlerDependencies, logOf } from './dependencies';
import { awsErrorText } from './failures';
import { DeleteRequest } from './request';
import { parseEcrRegistry } from '../private/ecr-names';

/**
 * Delete: keep the image, unless the properties opt in to removal and the tag still points at the
 * digest this resource copied; then remove the tag. A tag or repository already gone is success.
 */
export async function removeOnDelete(request: DeleteRequest, deps: HandlerDependencies): Promise<void> {
  const log = logOf(deps);
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
  const tag = { region: regionOf(registry, deps), registryId: parseEcrRegistry(registry)?.account, repositoryName, tag: copied.tag };
  let current: string | undefined;
  try {
    current = await deps.describeTag(tag);
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === 'ImageNotFoundException' || name === 'RepositoryNotFoundException') {
      log('delete: tag already gone', { repositoryName, tag: copied.tag });
      return;
    }
    throw new Error(
      `Could not check where tag ${copied.tag} of ${copied.repositoryUri} points before removing it: ${awsErrorText(e)}. ` +
      'Grant the sync function ecr:DescribeImages on the repository, or set removeOnDelete to false to keep the image.',
    );
  }
  if (current !== copied.digest) {
    log('delete: tag now points elsewhere, keeping it', { repositoryName, tag: copied.tag, digest: current, ours: copied.digest });
    return;
  }
  try {
    const failures = await deps.deleteTag(tag);
    const failure = failures.find((f) => f.failureCode !== 'ImageNotFound' && f.failureCode !== 'ImageTagDoesNotMatchDigest');
    if (failure) {
      throw Object.assign(new Error(`${failure.failureCode}: ${failure.failureReason}`), { name: failure.failureCode });
    }
  } catch (e) {
    throw new Error(
      `Could not remove tag ${copied.tag} from ${copied.repositoryUri}: ${awsErrorText(e)}. ` +
      'Grant the sync function ecr:BatchDeleteImage on the repository, or set removeOnDelete to false to keep the image.',
    );
  }
  log('delete: removed the tag', { repositoryName, tag: copied.tag, digest: copied.digest });
}
