/**
 * Air-gapped sources through the real handler and engine: skopeo (the reference client) writes an
 * OCI image layout and an oci-archive of images the test bed built, the install stack is synthesized
 * with `ImageSource.fromOciLayout` / `fromOciArchive`, the file asset it wrote is served by a mocked
 * S3 GetObject, and the install's "ECR" is a basic-auth loopback registry behind a mocked
 * GetAuthorizationToken. The pushed digest must be the layout's.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { ECRClient } from '@aws-sdk/client-ecr';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { readTarArchive, writeTar } from '../../src/artifacts/tar';
import { ImageSource } from '../../src/image-source';
import { ImageSync } from '../../src/image-sync';
import { Attributes, IMAGE_SYNC_RESOURCE_TYPE, Props } from '../../src/image-sync-contract';
import { ImageSyncDestination } from '../../src/image-sync-destination';
import { IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials } from '../support/handler-bed';
import { BuiltImage, buildImage, buildIndex, expectImage, listTags, pushImage, readManifest } from '../support/images';
import { requireTool, startRegistry, stopAll, TestRegistry } from '../support/registry';

const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';
const BUCKET = 'cdk-hnb659fds-assets-444455556666-eu-west-1';

const ecrMock = mockClient(ECRClient);
const s3Mock = mockClient(S3Client);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-airgap-'));

let vendor: TestRegistry;
let install: TestRegistry;
let seq = 0;

function skopeo(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'utf8', timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`fails: skopeo ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

/** The image pushed to the vendor's registry, then written by skopeo to `transport:PATH:ref` as it is (digests preserved). */
async function skopeoLayout(img: BuiltImage, transport: 'oci' | 'oci-archive', ref: string): Promise<string> {
  const repo = `vendor/app${++seq}`;
  await pushImage(vendor, repo, ref, img);
  const target = path.join(scratch, `${transport}-${seq}${transport === 'oci-archive' ? '.tar' : ''}`);
  await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${vendor.host}/${repo}:${ref}`, `${transport}:${target}:${ref}`]);
  return target;
}

beforeAll(async () => {
  requireTool('skopeo');
  useFunctionRoleCredentials();
  [vendor, install] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
});

afterAll(async () => {
  await stopAll();
  fs.rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  ecrMock.reset();
  s3Mock.reset();
  fakeEcrLogin(ecrMock, install, 12 * 3600_000);
});

const deps = () => handlerDependencies({ [INSTALL_HOST]: install.host });

interface Synthesized {
  readonly properties: { [key: string]: any };
  readonly archive: Buffer;
}

/** The install stack with one air-gapped sync, as `cdk synth` writes it: the resource's properties and the asset's bytes. */
function synth(source: () => ImageSource): Synthesized {
  const app = new App();
  const stack = new Stack(app, 'Install', { env: { account: '444455556666', region: 'eu-west-1' } });
  new ImageSync(stack, 'Api', { source: source(), destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')) });
  const { ServiceToken: _, ...properties } = Object.values(Template.fromStack(stack).findResources(IMAGE_SYNC_RESOURCE_TYPE))[0].Properties;
  const assembly = app.synth();
  const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Install.assets.json'), 'utf8'));
  const entry = Object.values(assets.files as { [hash: string]: any }).find((f) => f.source.path.endsWith('.tar'));
  return { properties, archive: fs.readFileSync(path.join(assembly.directory, entry.source.path)) };
}

function event(s: Synthesized, repository: string, requestType: 'Create' | 'Update' = 'Create'): ImageSyncEvent {
  return {
    RequestType: requestType,
    RequestId: `req-${++seq}`,
    StackId: 'arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1',
    LogicalResourceId: 'Api',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResourceProperties: {
      ...s.properties,
      [Props.SOURCE_BUCKET]: BUCKET,
      [Props.SOURCE_OBJECT_KEY]: 'install/image.tar',
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${repository}`,
      [Props.DESTINATION_REPOSITORY_NAME]: repository,
    },
  };
}

function serve(archive: Buffer): void {
  s3Mock.on(GetObjectCommand, { Bucket: BUCKET }).callsFake(async () => ({ ContentLength: archive.length, Body: Readable.from([archive]) }));
}

async function run(e: ImageSyncEvent): Promise<IsCompleteResponse> {
  return runProvider(e, deps(), { remainingMs: 14 * 60_000 });
}

const layoutDigest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).manifests[0].digest;

describe('air-gapped sources', () => {
  const index = buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8'], layers: [40_000, 3000] });

  test('pushes a multi-platform image from an OCI layout skopeo wrote, with the layout\'s digest, children first', async () => {
    const dir = await skopeoLayout(index, 'oci', 'v1.2.3');
    const synthesized = synth(() => ImageSource.fromOciLayout(dir));
    const repository = `install/api${++seq}`;
    serve(synthesized.archive);

    const result = await run(event(synthesized, repository));

    expect(layoutDigest(dir)).toBe(index.digest);
    expect(synthesized.properties[Props.EXPECTED_SOURCE_DIGEST]).toBe(index.digest);
    expect(result.Data).toMatchObject({
      [Attributes.IMAGE_DIGEST]: index.digest,
      [Attributes.IMAGE_TAG]: 'api_v1.2.3',
      [Attributes.MEDIA_TYPE]: 'application/vnd.oci.image.index.v1+json',
      [Attributes.IMAGE_URI]: `${INSTALL_HOST}/${repository}@${index.digest}`,
    });
    await expectImage(install, repository, 'api_v1.2.3', index);
  });

  test('pushes a Docker image from an oci-archive skopeo wrote, with the archive\'s digest', async () => {
    const image = buildImage({ format: 'docker', layers: [20_000] });
    const file = await skopeoLayout(image, 'oci-archive', 'v2');
    const synthesized = synth(() => ImageSource.fromOciArchive(file));
    const repository = `install/api${++seq}`;
    serve(synthesized.archive);

    const result = await run(event(synthesized, repository));

    expect(result.Data?.[Attributes.IMAGE_DIGEST]).toBe(image.digest);
    await expectImage(install, repository, 'api_v2', image);
  });

  test('is a no-op on a re-run: the tag already names the digest, and the asset is not even read', async () => {
    const dir = await skopeoLayout(index, 'oci', 'v1.2.3');
    const synthesized = synth(() => ImageSource.fromOciLayout(dir));
    const repository = `install/api${++seq}`;
    serve(synthesized.archive);
    await run(event(synthesized, repository));
    s3Mock.resetHistory();

    const again = await run(event(synthesized, repository, 'Update'));

    expect(again.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: index.digest, [Attributes.BLOBS_COPIED]: '0', [Attributes.BYTES_COPIED]: '0' });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  test('fails on a tampered asset (a platform\'s layer changed) and writes no tag and no manifest', async () => {
    const dir = await skopeoLayout(index, 'oci', 'v1.2.3');
    const synthesized = synth(() => ImageSource.fromOciLayout(dir));
    const repository = `install/api${++seq}`;
    const victim = `blobs/sha256/${JSON.parse(index.children[1].manifest.toString('utf8')).layers[0].digest.slice(7)}`;
    const entries = readTarArchive(synthesized.archive, { maxBytes: synthesized.archive.length, maxEntries: 100 });
    serve(writeTar(entries.map((e) => {
      const data = Buffer.from(e.data);
      if (e.name === victim) data[data.length - 1] = 255 - data[data.length - 1];
      return { name: e.name, data };
    })));

    await expect(run(event(synthesized, repository))).rejects.toThrow(
      new RegExp(`the archive is not the artifact ${index.digest} the stack was synthesized with: layer 1 of ${index.children[1].digest} .* does not match its bytes.*Nothing was pushed`));
    expect(await listTags(install, repository)).toEqual([]);
    for (const digest of [index.digest, index.children[0].digest, index.children[1].digest]) {
      expect(await readManifest(install, repository, digest)).toBeUndefined();
    }
  });
});
