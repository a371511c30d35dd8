import { Props, SourceKinds } from '../../src/image-sync-contract';
import { EcrTag, Invocation, invocationOf } from '../../src/image-sync-handler/dependencies';
import { parsePhysicalId } from '../../src/image-sync-handler/physical-id';
import { removeOnDelete } from '../../src/image-sync-handler/remove-on-delete';
import { DeleteRequest, parseSyncRequest } from '../../src/image-sync-handler/request';

const INSTALL_HOST = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const DIGEST = `sha256:${'c'.repeat(64)}`;
const OTHER = `sha256:${'d'.repeat(64)}`;

/**
 * An invocation whose ECR holds tags in a map and removes one only while it names the digest
 * asked for, as BatchDeleteImage does with a tag and a digest in one image id; everything else fails.
 */
function fakeEcr(tags: Map<string, string>, calls: string[]): Invocation {
  const key = (t: EcrTag) => `${t.region}/${t.registryId}/${t.repositoryName}:${t.tag}`;
  const refuse = async () => {
    throw new Error('fails: not expected in a Delete');
  };
  return invocationOf({
    region: 'us-east-1',
    assumeRole: refuse,
    ecrAuthorizationToken: refuse,
    readSecret: refuse,
    readObject: refuse,
    tagMutability: refuse,
    deleteTag: async (t) => {
      calls.push(`delete ${key(t)}@${t.digest}`);
      const current = tags.get(key(t));
      if (current === undefined) return [{ failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }];
      if (current !== t.digest) return [{ failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid image tag' }];
      tags.delete(key(t));
      return [];
    },
    log: () => undefined,
  });
}

function deleteRequest(removeOnDeleteProp: string, physicalId: string): DeleteRequest {
  return {
    step: 'delete',
    requestType: 'Delete',
    physicalId,
    copied: parsePhysicalId(physicalId),
    sync: parseSyncRequest({
      [Props.SOURCE_KIND]: SourceKinds.ECR,
      [Props.SOURCE_IMAGE]: `${INSTALL_HOST}/build/api:v1`,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/install/api`,
      [Props.DESTINATION_REPOSITORY_NAME]: 'install/api',
      [Props.DESTINATION_TAG]: 'v1',
      [Props.REMOVE_ON_DELETE]: removeOnDeleteProp,
    }),
  };
}

describe('removeOnDelete', () => {
  test('removes the tag in the registry\'s own region and account, naming the tag and the digest in one call', async () => {
    const calls: string[] = [];
    const tags = new Map([['eu-central-1/444455556666/install/api:v1', DIGEST]]);

    await removeOnDelete(deleteRequest('true', `${INSTALL_HOST}/install/api:v1@${DIGEST}`), fakeEcr(tags, calls));

    expect(calls).toEqual([`delete eu-central-1/444455556666/install/api:v1@${DIGEST}`]);
    expect(tags.size).toBe(0);
  });

  test('keeps a tag that moved to another image, without a window between a check and the removal', async () => {
    const calls: string[] = [];
    const tags = new Map([['eu-central-1/444455556666/install/api:v1', OTHER]]);

    await removeOnDelete(deleteRequest('true', `${INSTALL_HOST}/install/api:v1@${DIGEST}`), fakeEcr(tags, calls));

    expect(calls).toHaveLength(1);
    expect(tags.get('eu-central-1/444455556666/install/api:v1')).toBe(OTHER);
  });

  test('never removes a tag this resource found in place', async () => {
    const calls: string[] = [];
    const tags = new Map([['eu-central-1/444455556666/install/api:v1', DIGEST]]);

    await removeOnDelete(deleteRequest('true', `${INSTALL_HOST}/install/api:v1@${DIGEST}#found`), fakeEcr(tags, calls));

    expect(calls).toEqual([]);
    expect(tags.size).toBe(1);
  });

  test('asks nothing of ECR when removal is not opted in', async () => {
    const calls: string[] = [];

    await removeOnDelete(deleteRequest('false', `${INSTALL_HOST}/install/api:v1@${DIGEST}`), fakeEcr(new Map(), calls));

    expect(calls).toEqual([]);
  });
});
