import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BatchDeleteImageCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { Attributes, IMAGE_SYNC_RESOURCE_TYPE, Props, STACK_ID_ENV, SourceKinds } from '../src/image-sync-contract';
import { startFaultProxy } from './support/fault-proxy';
import { startFakeRegistry } from './support/hostile';
import { HandlerDependencies } from '../src/image-sync-handler/dependencies';
import { handleEvent, IsCompleteResponse, OnEventResponse } from '../src/image-sync-handler/handler';
import { BUDGET_KEY, ImageSyncEvent, PHASE_KEY } from '../src/image-sync-handler/request';
import { createDependencies, handler } from '../src/image-sync.lambda';
import { BuiltImage, buildArtifact, buildImage, buildIndex, expectImage, pushImage, readManifest } from './support/images';
import { startRegistry, stopAll, TestRegistry } from './support/registry';

const TENANT_HOST = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';
const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';
const HUB_HOST = 'registry.example.com';
const PUBLIC_HOST = 'public.registry.example.org';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/acme-ecr-access';
const EXTERNAL_ID = 'install-acme-0042';
const RESPONSE_URL = 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed?X-Amz-Signature=abc123secret';
const TENANT_SESSION_KEY = 'ASIATENANTSESSION000';

const ecrMock = mockClient(ECRClient);
const stsMock = mockClient(STSClient);
const secretsMock = mockClient(SecretsManagerClient);

let tenant: TestRegistry;
let install: TestRegistry;
let hub: TestRegistry;
let open: TestRegistry;
let logs: string[];
let seq = 0;

beforeAll(async () => {
  // The function's own credentials, as the Lambda runtime provides them.
  process.env.AWS_ACCESS_KEY_ID = 'AKIAFUNCTIONROLE0000';
  process.env.AWS_SECRET_ACCESS_KEY = 'function-secret';
  [tenant, install, hub, open] = await Promise.all([
    startRegistry({ auth: 'basic' }),
    startRegistry({ auth: 'basic' }),
    startRegistry({ auth: 'token' }),
    startRegistry({ auth: 'none' }),
  ]);
});

afterAll(async () => {
  await stopAll();
});

beforeEach(() => {
  ecrMock.reset();
  stsMock.reset();
  secretsMock.reset();
  logs = [];
  // ECR's token is base64("AWS:<password>"); here each loopback registry's user:password, chosen by
  // whose credentials the client holds: the pull session's (tenant) or the function's (install).
  ecrMock.on(GetAuthorizationTokenCommand).callsFake(async (_input, getClient) => {
    const credentials = await (getClient().config.credentials as () => Promise<{ accessKeyId: string }>)();
    const reg = credentials.accessKeyId === TENANT_SESSION_KEY ? tenant : install;
    const token = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
    return { authorizationData: [{ authorizationToken: token, expiresAt: new Date(Date.now() + 12 * 3600_000) }] };
  });
  stsMock.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: TENANT_SESSION_KEY, SecretAccessKey: 'tenant-session-secret', SessionToken: 'tenant-session-token', Expiration: new Date(Date.now() + 900_000) },
  });
});

function deps(overrides: Partial<HandlerDependencies> = {}): HandlerDependencies {
  const hosts: { [host: string]: string } = {
    [TENANT_HOST]: tenant.host,
    [INSTALL_HOST]: install.host,
    [HUB_HOST]: hub.host,
    [PUBLIC_HOST]: open.host,
  };
  return createDependencies({
    region: 'eu-west-1',
    dial: (registry) => hosts[registry] ?? registry,
    log: (message, fields) => logs.push(JSON.stringify({ message, ...fields })),
    ...overrides,
  });
}

function repoName(prefix: string): string {
  seq += 1;
  return `${prefix}/app${seq}`;
}

function tenantProps(sourceRepo: string, destRepo: string, extra: { [key: string]: unknown } = {}): { [key: string]: unknown } {
  return {
    ServiceToken: 'arn:aws:lambda:eu-west-1:444455556666:function:framework-onEvent',
    [Props.SOURCE_KIND]: SourceKinds.TENANT_ECR,
    [Props.SOURCE_IMAGE]: `${TENANT_HOST}/${sourceRepo}:v1`,
    [Props.SOURCE_REPOSITORY_ARN]: `arn:aws:ecr:eu-west-1:111122223333:repository/${sourceRepo}`,
    [Props.ACCESS_ROLE_ARN]: ROLE_ARN,
    [Props.EXTERNAL_ID]: EXTERNAL_ID,
    [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${destRepo}`,
    [Props.DESTINATION_REPOSITORY_NAME]: destRepo,
    [Props.DESTINATION_TAG]: 'v1',
    [Props.RELEASE_ID]: 'r-42',
    [Props.REMOVE_ON_DELETE]: 'false',
    [Props.TOTAL_TIMEOUT_SECONDS]: '3600',
    ...extra,
  };
}

function cfnEvent(requestType: 'Create' | 'Update' | 'Delete', properties: { [key: string]: unknown }, extra: Partial<ImageSyncEvent> = {}): ImageSyncEvent {
  return {
    RequestType: requestType,
    RequestId: `req-${++seq}`,
    StackId: 'arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1',
    LogicalResourceId: 'ApiImage',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResponseURL: RESPONSE_URL,
    ResourceProperties: properties,
    ...extra,
  };
}

const longInvocation = () => 14 * 60_000;

/** What the provider framework does: onEvent, then isComplete with onEvent's answer merged in, until complete. */
async function runProvider(
  event: ImageSyncEvent,
  d = deps(),
  remaining = longInvocation,
  maxPolls = 5,
): Promise<{ onEvent: OnEventResponse; result: IsCompleteResponse; polls: number }> {
  const first = await handleEvent(event, d, remaining) as OnEventResponse;
  const merged: ImageSyncEvent = { ...event, ...first };
  for (let polls = 1; polls <= maxPolls; polls++) {
    const result = await handleEvent(merged, d, remaining) as IsCompleteResponse;
    if (result.IsComplete) return { onEvent: first, result, polls };
  }
  throw new Error(`still incomplete after ${maxPolls} polls`);
}

async function pushTenant(repo: string, img: BuiltImage, tag = 'v1'): Promise<string> {
  return pushImage(tenant, repo, tag, img);
}

describe('image-sync handler', () => {
  test('copies a tenant release on Create through a 900-second pull session scoped to the one repository', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [64 * 1024, 32 * 1024] });
    await pushTenant(src, img);

    const { onEvent, result } = await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    expect(onEvent.PhysicalResourceId).toBe(`${INSTALL_HOST}/${dst}:v1`);
    expect(result.PhysicalResourceId).toBe(`${INSTALL_HOST}/${dst}:v1@${img.digest}`);
    expect(result.Data).toEqual({
      [Attributes.IMAGE_DIGEST]: img.digest,
      [Attributes.IMAGE_URI]: `${INSTALL_HOST}/${dst}@${img.digest}`,
      [Attributes.IMAGE_TAG]: 'v1',
      [Attributes.REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
      [Attributes.MEDIA_TYPE]: img.mediaType,
      [Attributes.BYTES_COPIED]: String([...img.blobs.values()].reduce((n, b) => n + b.length, 0)),
      [Attributes.BLOBS_COPIED]: '3',
      [Attributes.BLOBS_SKIPPED]: '0',
    });
    await expectImage(install, dst, 'v1', img);

    const assume = stsMock.commandCalls(AssumeRoleCommand);
    expect(assume).toHaveLength(1);
    const input = assume[0].args[0].input;
    expect(input).toMatchObject({
      RoleArn: ROLE_ARN,
      ExternalId: EXTERNAL_ID,
      DurationSeconds: 900,
      RoleSessionName: 'sync-r-42-ApiImage',
      Tags: [{ Key: 'ReleaseId', Value: 'r-42' }],
    });
    expect(JSON.parse(input.Policy!).Statement).toEqual(expect.arrayContaining([
      expect.objectContaining({
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
        Resource: `arn:aws:ecr:eu-west-1:111122223333:repository/${src}`,
      }),
    ]));
  });

  test('is a no-op when the destination already holds the digest under the tag', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [16 * 1024] });
    await pushTenant(src, img);
    await pushImage(install, dst, 'v1', img);

    const { result } = await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    expect(result.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: img.digest, [Attributes.BYTES_COPIED]: '0', [Attributes.BLOBS_COPIED]: '0' });
    expect(logs.some((l) => l.includes('"alreadyPresent":true'))).toBe(true);
    // The tag was there before: the physical id says so, and a removal on Delete will keep it.
    expect(result.PhysicalResourceId).toBe(`${INSTALL_HOST}/${dst}:v1@${img.digest}#found`);
  });

  test('moves the tag on Update and copies only the changed layer', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const v1 = buildImage({ layers: [40 * 1024, 20 * 1024] });
    await pushTenant(src, v1);
    const created = await runProvider(cfnEvent('Create', tenantProps(src, dst)));
    // Release 2 shares the first layer and changes the second (and so the config).
    const base = [...v1.blobs.entries()];
    const v2 = rebuildWithSharedLayer(v1);
    await pushTenant(src, v2);

    const { onEvent, result } = await runProvider(cfnEvent('Update', tenantProps(src, dst, { [Props.RELEASE_ID]: 'r-43' }), {
      PhysicalResourceId: created.result.PhysicalResourceId,
      OldResourceProperties: tenantProps(src, dst),
    }));

    expect(base.length).toBe(3);
    expect(onEvent.PhysicalResourceId).toBe(created.result.PhysicalResourceId);
    expect(result.PhysicalResourceId).toBe(`${INSTALL_HOST}/${dst}:v1@${v2.digest}`);
    expect(result.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: v2.digest, [Attributes.BLOBS_COPIED]: '2', [Attributes.BLOBS_SKIPPED]: '1' });
    expect((await readManifest(install, dst, 'v1'))?.digest).toBe(v2.digest);
  });

  test('keeps the physical id when only the release id changes', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage();
    await pushTenant(src, img);
    const created = await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    const updated = await runProvider(cfnEvent('Update', tenantProps(src, dst, { [Props.RELEASE_ID]: 'r-99' }), { PhysicalResourceId: created.result.PhysicalResourceId }));

    expect(updated.result.PhysicalResourceId).toBe(created.result.PhysicalResourceId);
    expect(updated.result.Data).toMatchObject({ [Attributes.BYTES_COPIED]: '0' });
    expect(stsMock.commandCalls(AssumeRoleCommand)[1].args[0].input.RoleSessionName).toBe('sync-r-99-ApiImage');
  });

  test('copies only the requested platform of a multi-platform index, and nothing when synced again', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const index = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'] });
    await pushTenant(src, index);

    const { result } = await runProvider(cfnEvent('Create', tenantProps(src, dst, { [Props.PLATFORMS]: ['linux/arm64'] })));

    const digest = result.Data![Attributes.IMAGE_DIGEST];
    expect(digest).not.toBe(index.digest);
    const copied = JSON.parse((await readManifest(install, dst, 'v1'))!.body.toString('utf8'));
    expect(copied.manifests.map((m: any) => m.platform.architecture)).toEqual(['arm64']);
    // The filtered index is rebuilt identically: syncing the release again is a no-op.
    const again = await runProvider(cfnEvent('Update', tenantProps(src, dst, { [Props.PLATFORMS]: ['linux/arm64'] }), { PhysicalResourceId: result.PhysicalResourceId }));
    expect(again.result.PhysicalResourceId).toBe(result.PhysicalResourceId);
    expect(again.result.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: digest, [Attributes.BYTES_COPIED]: '0' });
  });

  test('copies a Helm chart pushed as an OCI artifact the same way', async () => {
    const src = repoName('charts');
    const dst = repoName('install');
    const chart = buildArtifact({ kind: 'helm' });
    await pushTenant(src, chart);

    const { result } = await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    expect(result.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: chart.digest, [Attributes.MEDIA_TYPE]: chart.mediaType });
    await expectImage(install, dst, 'v1', chart);
  });

  test('copies from the same account\'s ECR with the function\'s own token, without assuming a role', async () => {
    const dst = repoName('install');
    const build = repoName('build');
    const img = buildImage();
    await pushImage(install, build, 'main', img);

    const { result } = await runProvider(cfnEvent('Create', {
      [Props.SOURCE_KIND]: SourceKinds.ECR,
      [Props.SOURCE_IMAGE]: `${INSTALL_HOST}/${build}:main`,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
      [Props.DESTINATION_REPOSITORY_NAME]: dst,
      [Props.DESTINATION_TAG]: 'main',
    }));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  test('copies from another registry with credentials read from Secrets Manager', async () => {
    const dst = repoName('install');
    const pub = repoName('public');
    const img = buildImage();
    await pushImage(hub, pub, '1.27', img);
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:hub-login-AbCdEf';
    const login = JSON.stringify({ username: hub.username, password: hub.password });
    secretsMock.on(GetSecretValueCommand, { SecretId: secretArn }).resolves({ SecretString: login });

    const { result } = await runProvider(cfnEvent('Create', {
      [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
      [Props.SOURCE_IMAGE]: `${HUB_HOST}/${pub}:1.27`,
      [Props.CREDENTIALS_SECRET_ARN]: secretArn,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
      [Props.DESTINATION_REPOSITORY_NAME]: dst,
      [Props.DESTINATION_TAG]: '1.27',
    }));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    await expectImage(install, dst, '1.27', img);
  });

  test('copies anonymously from a public registry without reading any secret', async () => {
    const dst = repoName('install');
    const pub = repoName('library');
    const img = buildImage();
    await pushImage(open, pub, '1.27-alpine', img);

    const { result } = await runProvider(cfnEvent('Create', {
      [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
      [Props.SOURCE_IMAGE]: `${PUBLIC_HOST}/${pub}:1.27-alpine`,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
      [Props.DESTINATION_REPOSITORY_NAME]: dst,
      [Props.DESTINATION_TAG]: 'nginx-1.27-alpine',
    }));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    await expectImage(install, dst, 'nginx-1.27-alpine', img);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('fails saying the registry credentials secret could not be read, and what to check', async () => {
    const dst = repoName('install');
    secretsMock.on(GetSecretValueCommand).rejects(Object.assign(new Error('Secrets Manager can\'t find the specified secret.'), { name: 'ResourceNotFoundException' }));

    await expect(runProvider(cfnEvent('Create', {
      [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
      [Props.SOURCE_IMAGE]: `${HUB_HOST}/public/app:1`,
      [Props.CREDENTIALS_SECRET_ARN]: 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:gone-AbCdEf',
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
      [Props.DESTINATION_REPOSITORY_NAME]: dst,
      [Props.DESTINATION_TAG]: '1',
    }))).rejects.toThrow(/^Could not read the registry credentials secret .*gone-AbCdEf for .*ResourceNotFoundException.*Check that the secret exists/);
  });

  test('answers IsComplete false when the invocation runs out of time, without moving the tag, and completes on the next poll', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [256 * 1024, 256 * 1024] });
    await pushTenant(src, img);
    const d = deps();
    const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), d, longInvocation) as OnEventResponse;
    const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent };

    // 45 s is the margin kept for the answer: no time is left to copy.
    const cut = await handleEvent(merged, d, () => 45_000) as IsCompleteResponse;
    expect(cut).toEqual({ IsComplete: false });
    expect(await readManifest(install, dst, 'v1')).toBeUndefined();

    const next = await handleEvent(merged, d, longInvocation) as IsCompleteResponse;
    expect(next.IsComplete).toBe(true);
    await expectImage(install, dst, 'v1', img);
  });

  test('resumes across polls where the previous one stopped, copying no blob twice', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: Array.from({ length: 40 }, () => 48 * 1024) });
    await pushTenant(src, img);
    const d = deps({ concurrency: 1 });
    const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), d, longInvocation) as OnEventResponse;
    const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent };

    // Each poll gets a little more time than the last, like invocations cut short by their timeout.
    let polls = 0;
    let answer: IsCompleteResponse = { IsComplete: false };
    while (!answer.IsComplete && polls < 200) {
      polls += 1;
      answer = await handleEvent(merged, d, () => 45_000 + 25 * polls) as IsCompleteResponse;
      // Between polls the tag is absent, or (when a poll was stopped just after moving it) points at
      // the complete image: never at a partial one.
      if (!answer.IsComplete && await readManifest(install, dst, 'v1')) {
        await expectImage(install, dst, 'v1', img);
      }
    }

    expect(answer.IsComplete).toBe(true);
    expect(polls).toBeGreaterThan(1);
    // The last poll skips what earlier polls copied; no blob is copied twice (a blob whose upload
    // finished just as a poll was stopped counts in neither poll's copies: it is skipped later).
    const total = img.blobs.size;
    expect(Number(answer.Data![Attributes.BLOBS_SKIPPED])).toBeGreaterThan(0);
    expect(Number(answer.Data![Attributes.BLOBS_COPIED]) + Number(answer.Data![Attributes.BLOBS_SKIPPED])).toBe(total);
    const copiedPerPoll: number[] = logs.map((l) => JSON.parse(l)).filter((l) => l.blobsCopied !== undefined).map((l) => l.blobsCopied);
    expect(copiedPerPoll.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total);
    await expectImage(install, dst, 'v1', img);
  });

  test('copies from an ECR-like source that redirects blob downloads and fails now and then, never sending credentials elsewhere', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [96 * 1024, 48 * 1024] });
    await pushTenant(src, img);
    const proxy = await startFaultProxy(tenant);
    try {
      proxy.setFaults([
        { match: {}, kind: 'redirect-blobs' },
        { match: { method: 'GET', path: /\/manifests\// }, kind: 'status', status: 503, times: 1 },
        { match: {}, kind: 'expire-token', times: 1 },
      ]);
      const viaProxy = deps({ dial: (registry) => (registry === TENANT_HOST ? proxy.host : install.host) });

      const { result } = await runProvider(cfnEvent('Create', tenantProps(src, dst)), viaProxy);

      expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
      await expectImage(install, dst, 'v1', img);
      const redirected = proxy.requests.filter((r) => r.listener === 'redirect');
      expect(redirected.length).toBeGreaterThanOrEqual(img.blobs.size);
      expect(redirected.every((r) => r.authorization === undefined && r.status === 200)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  test('survives a truncated download from the source and refused uploads at the destination', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [200 * 1024, 64 * 1024] });
    await pushTenant(src, img);
    const [source, destination] = await Promise.all([startFaultProxy(tenant), startFaultProxy(install)]);
    try {
      source.setFaults([{ match: { method: 'GET', path: /\/blobs\/sha256:/ }, kind: 'truncate', afterBytes: 1000, times: 1 }]);
      destination.setFaults([
        { match: { method: 'PUT', path: /\/blobs\/uploads\// }, kind: 'status', status: 500, times: 1 },
        { match: { method: 'PUT', path: /\/manifests\// }, kind: 'status', status: 503, retryAfterSeconds: 0, times: 1 },
      ]);
      const d = deps({ dial: (registry) => (registry === TENANT_HOST ? source.host : destination.host) });

      const { result } = await runProvider(cfnEvent('Create', tenantProps(src, dst)), d);

      expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
      await expectImage(install, dst, 'v1', img);
      expect(source.requests.some((r) => r.fault === 'truncate')).toBe(true);
      expect(destination.requests.filter((r) => r.fault === 'status')).toHaveLength(2);
    } finally {
      await Promise.all([source.stop(), destination.stop()]);
    }
  });

  test('fails with "time budget exhausted" once the resource\'s budget is spent', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    await pushTenant(src, buildImage());
    const event = { ...cfnEvent('Create', tenantProps(src, dst)), [PHASE_KEY]: 'isComplete', [BUDGET_KEY]: Date.now() - 1, PhysicalResourceId: `${INSTALL_HOST}/${dst}:v1` };

    await expect(handleEvent(event, deps(), longInvocation)).rejects.toThrow(
      /^Time budget exhausted: copying .* did not finish within 3600 seconds\. The tag was not moved\. Deploy again to resume/,
    );
  });

  test('fails with "time budget exhausted" when a poll is cut short after the budget ends', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    await pushTenant(src, buildImage({ layers: Array.from({ length: 20 }, () => 48 * 1024) }));
    const start = Date.now();
    const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst, { [Props.TOTAL_TIMEOUT_SECONDS]: '300' })), deps({ now: () => start }), longInvocation) as OnEventResponse;
    // 90 s of the budget are kept to report the failure before CloudFormation's own timeout.
    expect(onEvent[BUDGET_KEY]).toBe(start + 300_000 - 90_000);

    // The budget ends 5 ms into this poll, long before the copy could finish.
    const event = { ...cfnEvent('Create', tenantProps(src, dst, { [Props.TOTAL_TIMEOUT_SECONDS]: '300' })), ...onEvent, [BUDGET_KEY]: Date.now() + 5 };
    await expect(handleEvent(event, deps({ concurrency: 1 }), longInvocation))
      .rejects.toThrow(/^Time budget exhausted: copying .* did not finish within 300 seconds.*The tag was not moved\. Deploy again to resume/);
    expect(await readManifest(install, dst, 'v1')).toBeUndefined();
  });

  test('fails saying the image was not found and what to check', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');

    await expect(runProvider(cfnEvent('Create', tenantProps(src, dst)))).rejects.toThrow(
      new RegExp(`^Copying ${TENANT_HOST}/${src}:v1 to ${INSTALL_HOST}/${dst}:v1 failed: .*Check the source repository, tag or digest`),
    );
  });

  test('fails saying access was denied assuming the role, without the external id', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    stsMock.on(AssumeRoleCommand).rejects(Object.assign(new Error(`User: arn:aws:sts::444455556666:assumed-role/sync/fn is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`), { name: 'AccessDenied' }));

    const failure = runProvider(cfnEvent('Create', tenantProps(src, dst)));

    await expect(failure).rejects.toThrow(new RegExp(`^Access denied assuming role ${ROLE_ARN} to pull .*Check that the access role trusts this stack's sync function role`));
    await expect(failure).rejects.not.toThrow(EXTERNAL_ID);
  });

  test('waits for STS\'s quota within the poll when STS is still throttled after the SDK\'s retries, and completes', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage();
    await pushTenant(src, img);
    stsMock.on(AssumeRoleCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })).resolves({
      Credentials: { AccessKeyId: TENANT_SESSION_KEY, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 900_000) },
    });

    const { result, polls } = await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    expect(polls).toBe(1);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(2);
    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    expect(logs.some((l) => l.includes('transient failure'))).toBe(false);
  });

  test('answers not complete, without counting a failure, when STS stays throttled until the invocation\'s deadline', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    stsMock.on(AssumeRoleCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    // Two seconds to copy in this invocation (the handler keeps 45 s of margin).
    const shortInvocation = () => 47_000;
    const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), deps(), shortInvocation) as OnEventResponse;
    const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent };
    const started = Date.now();

    expect(await handleEvent(merged, deps(), shortInvocation)).toEqual({ IsComplete: false });

    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(stsMock.commandCalls(AssumeRoleCommand).length).toBeGreaterThan(1);
    expect(logs.some((l) => l.includes('copy stopped at the deadline before it was planned, will resume'))).toBe(true);
    expect(logs.some((l) => l.includes('transient failure'))).toBe(false);
  });

  test('tries again on the next poll when a registry keeps failing past the engine\'s own retries', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage();
    await pushTenant(src, img);
    const proxy = await startFaultProxy(tenant);
    try {
      proxy.setFaults([{ match: { method: 'GET', path: /\/manifests\// }, kind: 'status', status: 503, retryAfterSeconds: 0 }]);
      const viaProxy = deps({ dial: (registry) => (registry === TENANT_HOST ? proxy.host : install.host) });
      const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), viaProxy, longInvocation) as OnEventResponse;
      const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent };

      const during = await handleEvent(merged, viaProxy, longInvocation) as IsCompleteResponse;
      proxy.setFaults([]);
      const after = await handleEvent(merged, viaProxy, longInvocation) as IsCompleteResponse;

      expect(during).toEqual({ IsComplete: false });
      expect(after.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    } finally {
      await proxy.stop();
    }
  });

  test('fails saying the registry answered with an error once an outage outlasts the retry window, counted from its first failure', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    await pushTenant(src, buildImage());
    const proxy = await startFaultProxy(tenant);
    try {
      proxy.setFaults([{ match: { method: 'GET', path: /\/manifests\// }, kind: 'status', status: 503, retryAfterSeconds: 0 }]);
      let now = Date.now();
      const viaProxy = deps({ dial: (registry) => (registry === TENANT_HOST ? proxy.host : install.host), now: () => now });
      // The request started long ago (a slow copy, say): the window still starts with the first failure.
      const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), deps({ now: () => now - 50 * 60_000 }), longInvocation) as OnEventResponse;
      const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent, [BUDGET_KEY]: now + 3600_000 };

      expect(await handleEvent(merged, viaProxy, longInvocation)).toEqual({ IsComplete: false });
      now += 9 * 60_000;
      expect(await handleEvent(merged, viaProxy, longInvocation)).toEqual({ IsComplete: false });
      now += 2 * 60_000;
      await expect(handleEvent(merged, viaProxy, longInvocation))
        .rejects.toThrow(/^Copying .* failed: .*503.*The registry answered with an error: deploy again later/);
      expect(logs.filter((l) => l.includes('transient failure, will retry on the next poll'))).toHaveLength(2);
    } finally {
      await proxy.stop();
    }
  });

  test('fails saying STS could not be reached or throttled, not that access was denied, once the retry window has passed', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    // Unavailable, not throttled: a throttled call waits for the quota within the poll (above).
    stsMock.on(AssumeRoleCommand).rejects(Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' }));
    let now = Date.now();
    const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), deps({ now: () => now }), longInvocation) as OnEventResponse;
    const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent };

    expect(await handleEvent(merged, deps({ now: () => now }), longInvocation)).toEqual({ IsComplete: false });
    now += 11 * 60_000;
    await expect(handleEvent(merged, deps({ now: () => now }), longInvocation)).rejects.toThrow(
      new RegExp(`^Could not assume role ${ROLE_ARN} to pull .*ServiceUnavailable.*If STS was unreachable or throttled, deploy again`),
    );
  });

  test('fails on a digest mismatch when the bytes received do not match their digest', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    await pushTenant(src, buildImage({ layers: [8 * 1024] }));
    const proxy = await startFaultProxy(tenant);
    try {
      proxy.setFaults([{ kind: 'corrupt', atByte: 100, match: { method: 'GET', path: /\/blobs\/sha256:/ } }]);
      const viaProxy = deps({ dial: (registry) => (registry === TENANT_HOST ? proxy.host : install.host) });

      await expect(runProvider(cfnEvent('Create', tenantProps(src, dst)), viaProxy)).rejects.toThrow(
        /failed: .*The bytes received do not match their digest: the image in the source is corrupt or was changed during the copy; push it again\./,
      );
      expect(await readManifest(install, dst, 'v1')).toBeUndefined();
    } finally {
      await proxy.stop();
    }
  });

  test('fails on unreadable registry credentials without echoing the secret', async () => {
    const dst = repoName('install');
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-not-json' });

    const failure = runProvider(cfnEvent('Create', {
      [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
      [Props.SOURCE_IMAGE]: `${HUB_HOST}/public/app:1`,
      [Props.CREDENTIALS_SECRET_ARN]: 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:hub-AbCdEf',
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
      [Props.DESTINATION_REPOSITORY_NAME]: dst,
      [Props.DESTINATION_TAG]: '1',
    }));

    await expect(failure).rejects.toThrow(/^The registry credentials secret arn:aws:secretsmanager:.*hub-AbCdEf must hold JSON \{"username": "...", "password": "..."\}/);
    await expect(failure).rejects.not.toThrow('hunter2');
  });

  test('fails on invalid properties naming each problem', async () => {
    await expect(handleEvent(cfnEvent('Create', { [Props.SOURCE_KIND]: 'Ftp', [Props.DESTINATION_TAG]: '-x' }), deps(), longInvocation))
      .rejects.toThrow(new RegExp(`^Invalid ${IMAGE_SYNC_RESOURCE_TYPE} properties: ${Props.SOURCE_KIND} "Ftp" is not one of `
        + `${Object.values(SourceKinds).join(', ')}; ${Props.SOURCE_IMAGE} is missing; .*${Props.DESTINATION_TAG} "-x" is not a valid tag`));
  });

  test('keeps the image on Delete by default', async () => {
    const dst = repoName('install');
    const img = buildImage();
    await pushImage(install, dst, 'v1', img);

    const { result } = await runProvider(cfnEvent('Delete', tenantProps('tenant/x', dst), { PhysicalResourceId: `${INSTALL_HOST}/${dst}:v1@${img.digest}` }));

    expect(result).toEqual({ IsComplete: true });
    expect(ecrMock.commandCalls(BatchDeleteImageCommand)).toHaveLength(0);
    await expectImage(install, dst, 'v1', img);
  });

  test('removes the tag on Delete when opted in, naming the tag and this resource\'s digest in one call', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    ecrMock.on(BatchDeleteImageCommand).resolves({ imageIds: [{ imageTag: 'v1', imageDigest: digest }], failures: [] });

    await runProvider(cfnEvent('Delete', tenantProps('tenant/x', 'install/api', { [Props.REMOVE_ON_DELETE]: 'true' }), { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@${digest}` }));

    expect(ecrMock.commandCalls(BatchDeleteImageCommand)[0].args[0].input).toEqual({
      registryId: '444455556666', repositoryName: 'install/api', imageIds: [{ imageTag: 'v1', imageDigest: digest }],
    });
  });

  test('keeps a tag on Delete that a newer release has moved', async () => {
    ecrMock.on(BatchDeleteImageCommand).resolves({
      imageIds: [], failures: [{ imageId: { imageTag: 'v1', imageDigest: `sha256:${'c'.repeat(64)}` }, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid image tag' }],
    });

    await runProvider(cfnEvent('Delete', tenantProps('tenant/x', 'install/api', { [Props.REMOVE_ON_DELETE]: 'true' }), { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@sha256:${'c'.repeat(64)}` }));

    expect(logs.some((l) => l.includes('delete: tag already gone or moved to another image, keeping it'))).toBe(true);
  });

  test('keeps a tag on Delete that was in place before this resource, without asking ECR', async () => {
    await runProvider(cfnEvent('Delete', tenantProps('tenant/x', 'install/api', { [Props.REMOVE_ON_DELETE]: 'true' }), { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@sha256:${'c'.repeat(64)}#found` }));

    expect(ecrMock.commandCalls(BatchDeleteImageCommand)).toHaveLength(0);
    expect(logs.some((l) => l.includes('delete: the tag was in place before this resource, keeping it'))).toBe(true);
  });

  test('succeeds on Delete when the tag or repository is already gone, or nothing was ever copied', async () => {
    ecrMock.on(BatchDeleteImageCommand).rejects(Object.assign(new Error('gone'), { name: 'RepositoryNotFoundException' }));
    const props = tenantProps('tenant/x', 'install/api', { [Props.REMOVE_ON_DELETE]: 'true' });

    await runProvider(cfnEvent('Delete', props, { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@sha256:${'c'.repeat(64)}` }));
    await runProvider(cfnEvent('Delete', props, { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1` }));
    ecrMock.on(BatchDeleteImageCommand).resolves({ imageIds: [], failures: [{ failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }] });
    await runProvider(cfnEvent('Delete', props, { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@sha256:${'c'.repeat(64)}` }));

    expect(ecrMock.commandCalls(BatchDeleteImageCommand)).toHaveLength(2);
  });

  test('fails on Delete when ECR reports a failure for the tag it was asked to remove', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    ecrMock.on(BatchDeleteImageCommand).resolves({ imageIds: [], failures: [{ imageId: { imageTag: 'v1' }, failureCode: 'KmsError', failureReason: 'KMS key disabled' }] });

    await expect(runProvider(cfnEvent('Delete', tenantProps('tenant/x', 'install/api', { [Props.REMOVE_ON_DELETE]: 'true' }), { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@${digest}` })))
      .rejects.toThrow(/^Could not remove tag v1 from .*KmsError: KMS key disabled/);
  });

  test('keeps everything on Delete when the properties cannot be read', async () => {
    await runProvider(cfnEvent('Delete', { [Props.SOURCE_KIND]: 'Ftp' }, { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@sha256:${'c'.repeat(64)}` }));

    expect(ecrMock.commandCalls(BatchDeleteImageCommand)).toHaveLength(0);
    expect(logs.some((l) => l.includes('delete: properties unreadable, keeping whatever exists'))).toBe(true);
  });

  test('fails on Delete saying which permission to grant when ECR denies the removal', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    ecrMock.on(BatchDeleteImageCommand).rejects(Object.assign(new Error('not authorized to perform: ecr:BatchDeleteImage'), { name: 'AccessDeniedException' }));

    await expect(runProvider(cfnEvent('Delete', tenantProps('tenant/x', 'install/api', { [Props.REMOVE_ON_DELETE]: 'true' }), { PhysicalResourceId: `${INSTALL_HOST}/install/api:v1@${digest}` })))
      .rejects.toThrow(/^Could not remove tag v1 from .*AccessDeniedException.*Grant the sync function ecr:BatchDeleteImage/);
  });

  test('never logs the response URL, the external id or credentials', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    await pushTenant(src, buildImage());

    await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    const text = logs.join('\n');
    expect(logs.length).toBeGreaterThan(1);
    for (const secret of [RESPONSE_URL, 'abc123secret', EXTERNAL_ID, 'tenant-session-secret', tenant.password!, install.password!]) {
      expect(text).not.toContain(secret);
    }
  });

  test('the Lambda entry point answers onEvent with the isComplete marker and a budget', async () => {
    const printed = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const answer = await handler(cfnEvent('Create', tenantProps('tenant/api', 'install/api')), { getRemainingTimeInMillis: () => 600_000 }) as OnEventResponse;
    const lines = printed.mock.calls.map((c) => String(c[0]));
    printed.mockRestore();

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ message: 'onEvent', requestType: 'Create', properties: { [Props.EXTERNAL_ID]: '***' } });
    expect(lines[0]).not.toContain('abc123secret');

    expect(answer.PhysicalResourceId).toBe(`${INSTALL_HOST}/install/api:v1`);
    expect(answer[PHASE_KEY]).toBe('isComplete');
    expect(answer[BUDGET_KEY]).toBeGreaterThan(Date.now());
  });
});

/** Tenant properties pinned to a digest, written under `tag`. */
function pinnedProps(sourceRepo: string, destRepo: string, digest: string, tag: string): { [key: string]: unknown } {
  return tenantProps(sourceRepo, destRepo, { [Props.SOURCE_IMAGE]: `${TENANT_HOST}/${sourceRepo}@${digest}`, [Props.DESTINATION_TAG]: tag });
}

/** Tenant properties naming the source by `tag`, written under the same tag. */
function taggedProps(sourceRepo: string, destRepo: string, tag: string): { [key: string]: unknown } {
  return tenantProps(sourceRepo, destRepo, { [Props.SOURCE_IMAGE]: `${TENANT_HOST}/${sourceRepo}:${tag}`, [Props.DESTINATION_TAG]: tag });
}

/** The vendor rotated the external id or revoked the install's access: every AssumeRole is denied. */
function revokeTenantAccess(): void {
  stsMock.reset();
  stsMock.on(AssumeRoleCommand).rejects(Object.assign(new Error(`User is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`), { name: 'AccessDenied' }));
}

describe('image-sync handler: destination first', () => {
  test('rolls back to a release pinned by digest without the tenant, after the access role was revoked', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const [v1, v2] = [buildImage(), buildImage()];
    await pushTenant(src, v1, 'v1');
    await pushTenant(src, v2, 'v2');
    const created = await runProvider(cfnEvent('Create', pinnedProps(src, dst, v1.digest, 'v1')));
    const updated = await runProvider(cfnEvent('Update', pinnedProps(src, dst, v2.digest, 'v2'), {
      PhysicalResourceId: created.result.PhysicalResourceId, OldResourceProperties: pinnedProps(src, dst, v1.digest, 'v1'),
    }));
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(2);
    revokeTenantAccess();

    // UPDATE_ROLLBACK: the old properties come back as an Update.
    const rolledBack = await runProvider(cfnEvent('Update', pinnedProps(src, dst, v1.digest, 'v1'), {
      PhysicalResourceId: updated.result.PhysicalResourceId, OldResourceProperties: pinnedProps(src, dst, v2.digest, 'v2'),
    }));

    expect(rolledBack.result.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: v1.digest, [Attributes.MEDIA_TYPE]: v1.mediaType, [Attributes.BYTES_COPIED]: '0' });
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(rolledBack.result.PhysicalResourceId).toBe(`${INSTALL_HOST}/${dst}:v1@${v1.digest}#found`);
    expect(logs.some((l) => l.includes('the tag already names the pinned digest; the source was not asked'))).toBe(true);
  });

  test('tags a pinned digest the destination already holds from its own copy, without the tenant', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [8 * 1024, 4 * 1024] });
    await pushImage(install, dst, undefined, img);
    revokeTenantAccess();

    const { result } = await runProvider(cfnEvent('Create', pinnedProps(src, dst, img.digest, 'release-7')));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    expect(result.PhysicalResourceId).toBe(`${INSTALL_HOST}/${dst}:release-7@${img.digest}`);
    await expectImage(install, dst, 'release-7', img);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  test('rolls back a release named by tag without the tenant when the repository keeps its tags immutable', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const [v1, v2] = [buildImage(), buildImage()];
    await pushTenant(src, v1, 'v1');
    await pushTenant(src, v2, 'v2');
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: dst, imageTagMutability: 'IMMUTABLE' }] });
    const created = await runProvider(cfnEvent('Create', taggedProps(src, dst, 'v1')));
    const updated = await runProvider(cfnEvent('Update', taggedProps(src, dst, 'v2'), {
      PhysicalResourceId: created.result.PhysicalResourceId, OldResourceProperties: taggedProps(src, dst, 'v1'),
    }));
    revokeTenantAccess();

    const rolledBack = await runProvider(cfnEvent('Update', taggedProps(src, dst, 'v1'), {
      PhysicalResourceId: updated.result.PhysicalResourceId, OldResourceProperties: taggedProps(src, dst, 'v2'),
    }));

    expect(rolledBack.result.Data![Attributes.IMAGE_DIGEST]).toBe(v1.digest);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(DescribeRepositoriesCommand).at(-1)!.args[0].input).toEqual({ registryId: '444455556666', repositoryNames: [dst] });
  });

  test('re-syncs an unchanged release named by tag without the tenant, keeping the physical id', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    await pushTenant(src, buildImage());
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'latest*' }] }] });
    const created = await runProvider(cfnEvent('Create', tenantProps(src, dst)));
    revokeTenantAccess();

    const updated = await runProvider(cfnEvent('Update', tenantProps(src, dst, { [Props.RELEASE_ID]: 'r-43' }), { PhysicalResourceId: created.result.PhysicalResourceId }));

    expect(updated.result.PhysicalResourceId).toBe(created.result.PhysicalResourceId);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  test.each([
    ['the repository\'s tags are mutable', () => ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ imageTagMutability: 'MUTABLE' }] })],
    ['an exclusion filter keeps the tag mutable', () => ecrMock.on(DescribeRepositoriesCommand).resolves({
      repositories: [{ imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'v*' }] }],
    })],
    ['the function may not read the repository', () => ecrMock.on(DescribeRepositoriesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))],
  ])('asks the source on an Update by tag when %s', async (_name, arrange) => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const [v1, v1b] = [buildImage(), buildImage()];
    await pushTenant(src, v1);
    arrange();
    const created = await runProvider(cfnEvent('Create', tenantProps(src, dst)));
    // The tag moved in the tenant; the destination's tag can move too: only the source knows.
    await pushTenant(src, v1b);

    const updated = await runProvider(cfnEvent('Update', tenantProps(src, dst, { [Props.RELEASE_ID]: 'r-43' }), { PhysicalResourceId: created.result.PhysicalResourceId }));

    expect(updated.result.Data![Attributes.IMAGE_DIGEST]).toBe(v1b.digest);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  test('asks the source on a Create named by tag, even when the destination has the tag', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage();
    await pushTenant(src, img);
    await pushImage(install, dst, 'v1', img);
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ imageTagMutability: 'IMMUTABLE' }] });

    await runProvider(cfnEvent('Create', tenantProps(src, dst)));

    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(ecrMock.commandCalls(DescribeRepositoriesCommand)).toHaveLength(0);
  });
});

describe('image-sync handler: hostile surroundings', () => {
  test('refuses an event for another stack than the one it serves', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const ours = 'arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1';

    await expect(handleEvent(cfnEvent('Create', tenantProps(src, dst), { StackId: 'arn:aws:cloudformation:eu-west-1:999999999999:stack/Other/2' }), deps({ stackId: ours }), longInvocation))
      .rejects.toThrow(/^Refused an event for stack arn:aws:cloudformation:eu-west-1:999999999999:stack\/Other\/2: this sync function serves stack .*Install\/1 only/);
    await expect(handleEvent(cfnEvent('Delete', tenantProps(src, dst), { StackId: undefined }), deps({ stackId: ours }), longInvocation))
      .rejects.toThrow(/^Refused an event for stack \(none\)/);
    const answer = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), deps({ stackId: ours }), longInvocation) as OnEventResponse;
    expect(answer[PHASE_KEY]).toBe('isComplete');
  });

  test('reads the stack it serves from the environment the provider sets', () => {
    process.env[STACK_ID_ENV] = 'arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1';
    try {
      expect(createDependencies().stackId).toBe('arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1');
    } finally {
      delete process.env[STACK_ID_ENV];
    }
    expect(createDependencies().stackId).toBeUndefined();
  });

  test('keeps registry credentials and terminal control characters out of the failure reason and the logs', async () => {
    const dst = repoName('install');
    const robot = { username: 'robot', password: 'handler-s3cret-passw0rd' };
    const hostile = await startFakeRegistry({
      basic: robot,
      intercept: ({ req, res }) => {
        if (!req.headers.authorization) return false;
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({
          errors: [{ code: 'DENIED', message: `you sent ${req.headers.authorization} (${robot.password})\x1b]0;pwned\x07\r\x1b[2KCREATE_COMPLETE\u202e` }],
        }));
        return true;
      },
    });
    try {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(robot) });
      const d = deps({ dial: (registry) => (registry === HUB_HOST ? hostile.host : install.host) });
      const error = await runProvider(cfnEvent('Create', {
        [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
        [Props.SOURCE_IMAGE]: `${HUB_HOST}/vendor/app:1`,
        [Props.CREDENTIALS_SECRET_ARN]: 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:hub-AbCdEf',
        [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${dst}`,
        [Props.DESTINATION_REPOSITORY_NAME]: dst,
        [Props.DESTINATION_TAG]: '1',
      }), d).catch((e) => e);

      expect(error.message).toMatch(/failed: .*DENIED: you sent Basic \*\*\* \(\*\*\*\)/);
      const basic = Buffer.from(`${robot.username}:${robot.password}`).toString('base64');
      for (const text of [error.message, error.stack, ...logs]) {
        expect(text).not.toContain(robot.password);
        expect(text).not.toContain(basic);
        expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
      }
    } finally {
      await hostile.close();
    }
  });

  test('fails with advice that can help when one layer cannot be copied within one invocation', async () => {
    const src = repoName('tenant');
    const dst = repoName('install');
    const img = buildImage({ layers: [6 * 1024 * 1024] });
    await pushTenant(src, img);
    const proxy = await startFaultProxy(tenant);
    try {
      proxy.setFaults([{ match: { method: 'GET', path: /\/blobs\/sha256:/ }, kind: 'throttle', bytesPerSecond: 512 * 1024 }]);
      const d = deps({ dial: (registry) => (registry === TENANT_HOST ? proxy.host : install.host) });
      const onEvent = await handleEvent(cfnEvent('Create', tenantProps(src, dst)), d, longInvocation) as OnEventResponse;
      const merged = { ...cfnEvent('Create', tenantProps(src, dst)), ...onEvent };

      // Three seconds to copy in this invocation; the layer needs about twelve at the throttled rate.
      await expect(handleEvent(merged, d, () => 48_000)).rejects.toThrow(new RegExp(
        `^Layer sha256:[a-f0-9]{64} of ${TENANT_HOST}/${src}:v1 \\(6\\.0 MiB\\) cannot be copied within one invocation of the sync function: `
        + 'at the 0\\.\\d MiB/s this invocation reached it needs about \\d+ seconds, and an invocation has \\d seconds to copy.*'
        + `Pre-seed the destination with the command-line copy \\(cdk-byoc-artifacts copy ${TENANT_HOST}/${src}:v1 ${INSTALL_HOST}/${dst}:v1\\)`,
      ));
      expect(await readManifest(install, dst, 'v1')).toBeUndefined();
    } finally {
      await proxy.stop();
    }
  });
});

describe('the bundled Lambda asset', () => {
  const bundle = path.join(__dirname, '..', 'assets', 'image-sync.lambda', 'index.js');

  test('loads in a fresh Node.js process and answers onEvent and a default Delete without calling anything', () => {
    if (!fs.existsSync(bundle)) {
      throw new Error(`fails to find ${bundle}: build it with \`npx projen bundle\``);
    }
    const printed: string[] = [];
    const run = (event: ImageSyncEvent) => {
      const out = execFileSync(process.execPath, ['-e', [
        `require(${JSON.stringify(bundle)}).handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 600000 })`,
        '.then((r) => process.stdout.write("\\n" + JSON.stringify(r)))',
      ].join('')], { env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', NODE_NO_WARNINGS: '1' }, encoding: 'utf8' });
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      printed.push(...lines.slice(0, -1));
      return JSON.parse(lines[lines.length - 1]);
    };
    const copiedId = `${INSTALL_HOST}/install/api:v1@sha256:${'f'.repeat(64)}`;

    const created = run(cfnEvent('Create', tenantProps('tenant/api', 'install/api')));
    const deleted = run(cfnEvent('Delete', tenantProps('tenant/api', 'install/api'), { PhysicalResourceId: copiedId }));

    expect(created).toMatchObject({ PhysicalResourceId: `${INSTALL_HOST}/install/api:v1`, [PHASE_KEY]: 'isComplete' });
    expect(deleted).toEqual({ PhysicalResourceId: copiedId, [PHASE_KEY]: 'isComplete' });
    // Its log lines (what CloudWatch would get) name the request but not the response URL or external id.
    expect(printed.map((l) => JSON.parse(l).message)).toEqual(['onEvent', 'onEvent', 'delete: keeping the image']);
    expect(printed.join('\n')).not.toMatch(/abc123secret|install-acme-0042/);
  });
});

/** Release 2 of an image: the first layer unchanged, the second new (so a new config and manifest). */
function rebuildWithSharedLayer(v1: BuiltImage): BuiltImage {
  const fresh = buildImage({ layers: [1, 20 * 1024] });
  const manifest = JSON.parse(v1.manifest.toString('utf8'));
  const freshManifest = JSON.parse(fresh.manifest.toString('utf8'));
  const config = JSON.parse(v1.blobs.get(manifest.config.digest)!.toString('utf8'));
  const freshConfig = JSON.parse(fresh.blobs.get(freshManifest.config.digest)!.toString('utf8'));
  config.rootfs.diff_ids = [config.rootfs.diff_ids[0], freshConfig.rootfs.diff_ids[1]];
  const configBytes = Buffer.from(JSON.stringify(config));
  const digestOf = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
  const layers = [manifest.layers[0], freshManifest.layers[1]];
  const newManifest = { ...manifest, config: { ...manifest.config, digest: digestOf(configBytes), size: configBytes.length }, layers };
  const manifestBytes = Buffer.from(JSON.stringify(newManifest, null, 3));
  const blobs = new Map<string, Buffer>([
    [manifest.layers[0].digest, v1.blobs.get(manifest.layers[0].digest)!],
    [freshManifest.layers[1].digest, fresh.blobs.get(freshManifest.layers[1].digest)!],
    [digestOf(configBytes), configBytes],
  ]);
  return { ...v1, manifest: manifestBytes, digest: digestOf(manifestBytes), blobs };
}
