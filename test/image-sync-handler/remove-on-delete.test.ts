import { Props, SourceKinds } from '../../src/image-sync-contract';
import { EcrTag, HandlerDependencies } from '../../src/image-sync-handler/dependencies';
import { removeOnDelete } from '../../src/image-sync-handler/remove-on-delete';
import { DeleteRequest, parseSyncRequest } from '../../src/image-sync-handler/request';

const INSTALL_HOST = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';
const DIGEST = `sha256:${'c'.repeat(64)}`;

/** Dependencies that answer ECR's tag calls from a map and refuse everything else. */
function fakeEcr(tags: Map<string, string>, calls: string[]): HandlerDependencies {
  const key = (t: EcrTag) => `${t.region}/${t.registryId}/${t.repositoryName}:${t.tag}`;
  const refuse = async () => {
    throw new Error('fails: not expected in a Delete');
  };
  return {
    region: 'us-east-1',
    assumeRole: refuse,
    ecrAuthorizationToken: refuse,
    readSecret: refuse,
    describeTag: async (t) => {
      calls.push(`describe ${key(t)}`);
      return tags.get(key(t));
    },
    deleteTag: async (t) => {
      calls.push(`delete ${key(t)}`);
      tags.delete(key(t));
      return [];
    },
    log: () => undefined,
  };
}

function deleteRequest(removeOnDeleteProp: string, copiedDigest: string): DeleteRequest {
  return {
    step: 'delete',
    requestType: 'Delete',
    physicalId: `${INSTALL_HOST}/install/api:v1@${copiedDigest}`,
    copied: { repositoryUri: `${INSTALL_HOST}/install/api`, tag: 'v1', digest: copiedDigest },
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
  test('removes the tag in the registry\'s own region and account when it still points at the copied digest', async () => {
    const calls: string[] = [];
    const tags = new Map([['eu-central-1/444455556666/install/api:v1', DIGEST]]);

    await removeOnDelete(deleteRequest('true', DIGEST), fakeEcr(tags, calls));

    expect(calls).toEqual(['describe eu-central-1/444455556666/install/api:v1', 'delete eu-central-1/444455556666/install/api:v1']);
    expect(tags.size).toBe(0);
  });

  test('asks nothing of ECR when removal is not opted in', async () => {
    const calls: string[] = [];

    await removeOnDelete(deleteRequest('false', DIGEST), fakeEcr(new Map(), calls));

    expect(calls).toEqual([]);
  });
});
