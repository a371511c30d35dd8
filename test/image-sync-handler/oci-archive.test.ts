/**
 * A chart or bundle packed at synth time, pushed at deploy time through the real handler and engine:
 * the stack is synthesized, the archive file asset it wrote is served by a mocked S3 GetObject, and
 * the tenant's "ECR" is a basic-auth loopback registry behind a mocked GetAuthorizationToken. The
 * pushed chart is then pulled the way helm pulls it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import { ECRClient } from '@aws-sdk/client-ecr';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_OCI_ARCHIVE_BYTES } from '../../src/artifacts/oci-archive';
import { readTarArchive, writeTar } from '../../src/artifacts/tar';
import { Attributes, IMAGE_SYNC_RESOURCE_TYPE, Props } from '../../src/image-sync-contract';
import { HandlerDependencies, objectReader } from '../../src/image-sync-handler/dependencies';
import { IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { TenantRepository } from '../../src/tenant-repository';
import { fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials } from '../support/handler-bed';
import { pullChartLikeHelm } from '../support/helm';
import { listTags, readManifest } from '../support/images';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

const TENANT_HOST = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';
const BUCKET = 'cdk-hnb659fds-assets-111122223333-eu-west-1';
const CHART = path.join(__dirname, '..', 'fixtures', 'charts', 'web');
const MODULE = path.join(__dirname, '..', 'fixtures', 'bundles', 'network');

const ecrMock = mockClient(ECRClient);
const s3Mock = mockClient(S3Client);

let tenant: TestRegistry;
let seq = 0;

beforeAll(async () => {
  useFunctionRoleCredentials();
  tenant = await startRegistry({ auth: 'basic' });
});

afterAll(async () => {
  await stopAll();
});

beforeEach(() => {
  ecrMock.reset();
  s3Mock.reset();
  fakeEcrLogin(ecrMock, tenant, 12 * 3600_000);
});

function deps(overrides: Partial<HandlerDependencies> = {}): HandlerDependencies {
  return handlerDependencies({ [TENANT_HOST]: tenant.host }, undefined, overrides);
}

/** What synth wrote: the resource's properties and the archive file asset's bytes. */
interface Synthesized {
  readonly properties: { [key: string]: any };
  readonly archive: Buffer;
}

/** Synthesizes a tenant stack with one chart or bundle, as `cdk synth` would, and reads back what it wrote. */
function synth(add: (repo: TenantRepository) => void): Synthesized {
  const app = new App();
  const stack = new Stack(app, 'Tenant', { env: { account: '111122223333', region: 'eu-west-1' } });
  add(new TenantRepository(stack, 'Repo'));
  const properties = Object.values(Template.fromStack(stack).findResources(IMAGE_SYNC_RESOURCE_TYPE))[0].Properties;
  const assembly = app.synth();
  const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Tenant.assets.json'), 'utf8'));
  const entry = Object.values(assets.files as { [hash: string]: any }).find(f => f.source.path.endsWith('.tar'));
  return { properties, archive: fs.readFileSync(path.join(assembly.directory, entry.source.path)) };
}

const chart = synth(repo => repo.addChart('Web', { directory: CHART }));

/** The event CloudFormation sends for the synthesized resource, with its tokens resolved as at deploy time. */
function event(s: Synthesized, repo: string, requestType: 'Create' | 'Update' = 'Create'): ImageSyncEvent {
  const { ServiceToken: _, ...properties } = s.properties;
  return {
    RequestType: requestType,
    RequestId: `req-${++seq}`,
    StackId: 'arn:aws:cloudformation:eu-west-1:111122223333:stack/Tenant/1',
    LogicalResourceId: 'WebChart',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResourceProperties: {
      ...properties,
      [Props.SOURCE_BUCKET]: BUCKET,
      [Props.DESTINATION_REPOSITORY_URI]: `${TENANT_HOST}/${repo}`,
      [Props.DESTINATION_REPOSITORY_NAME]: repo,
    },
  };
}

function serve(archive: Buffer, contentLength = archive.length): void {
  s3Mock.on(GetObjectCommand, { Bucket: BUCKET }).callsFake(async () => ({ ContentLength: contentLength, Body: Readable.from([archive]) }));
}

async function run(e: ImageSyncEvent, d = deps()): Promise<IsCompleteResponse> {
  return runProvider(e, d, { remainingMs: 14 * 60_000 });
}

/** The archive with one blob's bytes changed (same length, same name): its digest no longer matches. */
function tampered(archive: Buffer): Buffer {
  const entries = readTarArchive(archive, { maxBytes: archive.length, maxEntries: 100 });
  const manifestName = `blobs/sha256/${chart.properties[Props.EXPECTED_SOURCE_DIGEST].slice(7)}`;
  const victim = entries.find(e => e.name.startsWith('blobs/') && e.name !== manifestName)!;
  return writeTar(entries.map(e => {
    const data = Buffer.from(e.data);
    if (e === victim) data[data.length - 1] = 255 - data[data.length - 1];
    return { name: e.name, data };
  }));
}

describe('OCI archive source', () => {
  test('pushes the chart the synth step packed, with the synth digest, as helm pulls it', async () => {
    const repo = `acme/web${++seq}`;
    serve(chart.archive);

    const result = await run(event(chart, repo));

    const digest = chart.properties[Props.EXPECTED_SOURCE_DIGEST];
    expect(result.Data).toMatchObject({
      [Attributes.IMAGE_DIGEST]: digest,
      [Attributes.IMAGE_TAG]: '1.2.3_build.7',
      [Attributes.IMAGE_URI]: `${TENANT_HOST}/${repo}@${digest}`,
      [Attributes.MEDIA_TYPE]: 'application/vnd.oci.image.manifest.v1+json',
      [Attributes.BLOBS_COPIED]: '2',
    });
    const pulled = await pullChartLikeHelm(tenant, repo, '1.2.3_build.7');
    expect(pulled.digest).toBe(digest);
    expect(pulled.config.name).toBe('web');
    expect([...pulled.files.keys()]).toContain('web/Chart.yaml');
    expect(s3Mock.commandCalls(GetObjectCommand).map(c => c.args[0].input))
      .toEqual([{ Bucket: BUCKET, Key: chart.properties[Props.SOURCE_OBJECT_KEY] }]);
  });

  test('is a no-op on a re-run: the tag already names the digest, and the archive is not even read', async () => {
    const repo = `acme/web${++seq}`;
    serve(chart.archive);
    await run(event(chart, repo));
    s3Mock.resetHistory();

    const again = await run(event(chart, repo, 'Update'));

    expect(again.Data).toMatchObject({
      [Attributes.IMAGE_DIGEST]: chart.properties[Props.EXPECTED_SOURCE_DIGEST], [Attributes.BLOBS_COPIED]: '0', [Attributes.BYTES_COPIED]: '0',
    });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  test('pushes a bundle with its artifact type under its tag', async () => {
    const bundle = synth(repo => repo.addBundle('Network', { directory: MODULE, artifactType: 'application/vnd.acme.terraform.module.v1', tag: '1.0.0' }));
    const repo = `acme/network${++seq}`;
    serve(bundle.archive);

    const result = await run(event(bundle, repo));

    expect(result.Data?.[Attributes.IMAGE_DIGEST]).toBe(bundle.properties[Props.EXPECTED_SOURCE_DIGEST]);
    const manifest = await readManifest(tenant, repo, '1.0.0');
    expect(manifest?.digest).toBe(bundle.properties[Props.EXPECTED_SOURCE_DIGEST]);
    expect(JSON.parse(manifest!.body.toString('utf8')).artifactType).toBe('application/vnd.acme.terraform.module.v1');
  });

  test('fails on a tampered archive (a blob that does not match its digest) and writes no tag', async () => {
    const repo = `acme/web${++seq}`;
    serve(tampered(chart.archive));

    await expect(run(event(chart, repo))).rejects.toThrow(
      new RegExp(`the archive is not the artifact ${chart.properties[Props.EXPECTED_SOURCE_DIGEST]} the stack was synthesized with: .* does not match its bytes.*Nothing was pushed`));
    expect(await listTags(tenant, repo)).toEqual([]);
    expect(await readManifest(tenant, repo, chart.properties[Props.EXPECTED_SOURCE_DIGEST])).toBeUndefined();
  });

  test('fails on an archive over the limit before reading its body, and writes no tag', async () => {
    const repo = `acme/web${++seq}`;
    serve(chart.archive, MAX_OCI_ARCHIVE_BYTES + 1);

    await expect(run(event(chart, repo))).rejects.toThrow(
      `the archive is refused: s3://${BUCKET}/${chart.properties[Props.SOURCE_OBJECT_KEY]} is ${MAX_OCI_ARCHIVE_BYTES + 1} bytes, more than the ${MAX_OCI_ARCHIVE_BYTES} allowed`);
    expect(await listTags(tenant, repo)).toEqual([]);
  });

  test('fails with what to check when the archive cannot be read from S3', async () => {
    const repo = `acme/web${++seq}`;
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));

    await expect(run(event(chart, repo))).rejects.toThrow(
      /could not read the archive \(s3:GetObject\): AccessDenied: Access Denied\. Check that the stack's file assets were published/);
    expect(await listTags(tenant, repo)).toEqual([]);
  });
});

describe('objectReader', () => {
  test('reads a body of undeclared length, and fails once it grows past the limit', async () => {
    const body = (chunks: Buffer[]) => async () => ({ Body: Readable.from(chunks) });
    const small = objectReader(body([Buffer.from('ab'), Buffer.from('cd')]));
    expect((await small({ bucket: 'b', key: 'k', maxBytes: 4 })).toString()).toBe('abcd');
    const large = objectReader(body([Buffer.from('abc'), Buffer.from('def')]));
    await expect(large({ bucket: 'b', key: 'k', maxBytes: 4 })).rejects.toThrow('s3://b/k is over 4 bytes, more than the 4 allowed');
  });
});
