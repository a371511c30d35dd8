/**
 * A pinned import (TenantImport) through the real handler and engine: a third-party image on an
 * anonymous loopback registry is copied into the tenant's "ECR" (a basic-auth loopback registry
 * behind a faked GetAuthorizationToken), and an upstream tag that moved fails before any tag is written.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Attributes, Props, SourceKinds } from '../../src/image-sync-contract';
import { IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { createEvent, destinationProps, fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials } from '../support/handler-bed';
import { buildImage, expectImage, listTags, pushImage, readManifest } from '../support/images';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

const TENANT_HOST = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';
const UPSTREAM_HOST = 'docker.example.org';

const ecrMock = mockClient(ECRClient);
const secretsMock = mockClient(SecretsManagerClient);

let tenant: TestRegistry;
let upstream: TestRegistry;
let seq = 0;

beforeAll(async () => {
  useFunctionRoleCredentials();
  [tenant, upstream] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'none' })]);
});

afterAll(async () => {
  await stopAll();
});

beforeEach(() => {
  ecrMock.reset();
  secretsMock.reset();
  fakeEcrLogin(ecrMock, tenant, 12 * 3600_000);
});

function importEvent(upstreamRepo: string, tenantRepo: string, tag: string, expected?: string): ImageSyncEvent {
  return createEvent({
    [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
    [Props.SOURCE_IMAGE]: `${UPSTREAM_HOST}/${upstreamRepo}:${tag}`,
    ...destinationProps(TENANT_HOST, tenantRepo, tag),
    ...(expected === undefined ? {} : { [Props.EXPECTED_SOURCE_DIGEST]: expected }),
  }, { logicalId: 'NginxImport', stackId: 'arn:aws:cloudformation:eu-west-1:111122223333:stack/Tenant/1' });
}

/** A sync through the provider's calls, polled until complete (at most 5 polls). */
async function sync(event: ImageSyncEvent): Promise<IsCompleteResponse> {
  const deps = handlerDependencies({ [TENANT_HOST]: tenant.host, [UPSTREAM_HOST]: upstream.host });
  return runProvider(event, deps, { polls: 5, remainingMs: 14 * 60_000 });
}

function names(): { upstreamRepo: string; tenantRepo: string } {
  seq += 1;
  return { upstreamRepo: `library/nginx${seq}`, tenantRepo: `third-party/nginx${seq}` };
}

describe('image-sync handler: pinned imports', () => {
  test('imports a tag that still names the expected digest and reports that digest', async () => {
    const { upstreamRepo, tenantRepo } = names();
    const img = buildImage();
    await pushImage(upstream, upstreamRepo, '1.27', img);

    const result = await sync(importEvent(upstreamRepo, tenantRepo, '1.27', img.digest));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    expect(result.Data![Attributes.IMAGE_URI]).toBe(`${TENANT_HOST}/${tenantRepo}@${img.digest}`);
    await expectImage(tenant, tenantRepo, '1.27', img);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('imports by tag without an expected digest and exposes the digest the tag resolved to', async () => {
    const { upstreamRepo, tenantRepo } = names();
    const img = buildImage();
    await pushImage(upstream, upstreamRepo, '1.27', img);

    const result = await sync(importEvent(upstreamRepo, tenantRepo, '1.27'));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    await expectImage(tenant, tenantRepo, '1.27', img);
  });

  test('fails the release when the upstream tag has moved, writing no tag and no manifest', async () => {
    const { upstreamRepo, tenantRepo } = names();
    const vetted = buildImage();
    const moved = buildImage();
    await pushImage(upstream, upstreamRepo, '1.27', moved);

    await expect(sync(importEvent(upstreamRepo, tenantRepo, '1.27', vetted.digest))).rejects.toThrow(
      `Copying ${UPSTREAM_HOST}/${upstreamRepo}:1.27 to ${TENANT_HOST}/${tenantRepo}:1.27 failed: `
      + `${UPSTREAM_HOST}/${upstreamRepo}:1.27 is ${moved.digest}, not the expected ${vetted.digest}; nothing was written `
      + 'The source tag has moved since the release was pinned',
    );
    expect(await listTags(tenant, tenantRepo)).toEqual([]);
    expect(await readManifest(tenant, tenantRepo, moved.digest)).toBeUndefined();
  });

  test('answers from the tenant repository when its tag already names the expected digest, whatever the upstream tag names now', async () => {
    const { upstreamRepo, tenantRepo } = names();
    const vetted = buildImage();
    await pushImage(upstream, upstreamRepo, '1.27', vetted);
    await sync(importEvent(upstreamRepo, tenantRepo, '1.27', vetted.digest));
    await pushImage(upstream, upstreamRepo, '1.27', buildImage());

    const result = await sync(importEvent(upstreamRepo, tenantRepo, '1.27', vetted.digest));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(vetted.digest);
    expect(result.Data![Attributes.BLOBS_COPIED]).toBe('0');
  });
});
