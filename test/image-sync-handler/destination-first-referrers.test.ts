import { ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { Attributes, Props, SourceKinds } from '../../src/image-sync-contract';
import { IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { referrersTag } from '../../src/sync/referrers';
import { cosignKeyPair, cosignSignature, signatureTag } from '../support/cosign';
import { FaultProxy, startFaultProxy } from '../support/fault-proxy';
import {
  INSTALL_HOST, VENDOR_HOST, createEvent, destinationProps, fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials,
} from '../support/handler-bed';
import { BuiltImage, MEDIA_TYPES, buildArtifact, buildIndex, expectImage, pushImage, putManifest, readManifest } from '../support/images';
import { freePort, startRegistry, stopAll, TestRegistry } from '../support/registry';

// The handler with a vendor registry as source (anonymous, behind a proxy that records its
// requests) and an ECR-like install registry; the releases are pinned by digest, so a re-sync
// is answered by the install repository first.
const ecrMock = mockClient(ECRClient);
let vendorRegistry: TestRegistry;
let vendor: FaultProxy;
let install: TestRegistry;
let seq = 0;
let logs: string[] = [];

beforeAll(async () => {
  useFunctionRoleCredentials();
  [vendorRegistry, install] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
  vendor = await startFaultProxy(vendorRegistry);
});

afterAll(async () => {
  await vendor.stop();
  await stopAll();
});

beforeEach(() => {
  logs = [];
  ecrMock.reset();
  fakeEcrLogin(ecrMock, install);
});

const vendorKey = cosignKeyPair();

function pinned(source: string, dst: string, digest: string, referrers: boolean): ImageSyncEvent {
  return createEvent({
    [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
    [Props.SOURCE_IMAGE]: `${VENDOR_HOST}/${source}@${digest}`,
    ...destinationProps(INSTALL_HOST, dst, 'api-v1'),
    [Props.COPY_REFERRERS]: String(referrers),
  });
}

/** One sync through onEvent and isComplete; `vendorHost` is where the vendor's name is dialled. */
async function run(e: ImageSyncEvent, vendorHost = vendor.host): Promise<IsCompleteResponse> {
  return runProvider(e, handlerDependencies({ [INSTALL_HOST]: install.host, [VENDOR_HOST]: vendorHost }, logs));
}

/** A signed 2-platform release at the vendor, synced once into the install. */
async function syncedRelease(): Promise<{ img: BuiltImage; source: string; dst: string }> {
  const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] });
  const source = `vendor/api-${++seq}`;
  const dst = `install/api-${seq}`;
  await pushImage(vendorRegistry, source, 'v1', img);
  const sig = cosignSignature({ digest: img.digest, dockerReference: `${VENDOR_HOST}/${source}`, key: vendorKey.privateKey });
  await pushImage(vendorRegistry, source, signatureTag(img.digest), sig);
  await run(pinned(source, dst, img.digest, true));
  await expectImage(install, dst, signatureTag(img.digest), sig);
  return { img, source, dst };
}

/** The vendor adds an SBOM to the arm64 image (tag schema: distribution has no referrers API) and signs the release again. */
async function vendorAddsReferrers(img: BuiltImage, source: string): Promise<{ sbom: BuiltImage; sig: BuiltImage }> {
  const arm = img.children[1];
  const sbom = buildArtifact({ kind: 'sbom', subject: arm });
  await pushImage(vendorRegistry, source, undefined, sbom);
  await putManifest(vendorRegistry, source, referrersTag(arm.digest), MEDIA_TYPES.ociIndex, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [{ mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.manifest.length, artifactType: sbom.artifactType }],
  })));
  const sig = cosignSignature({ digest: img.digest, dockerReference: `${VENDOR_HOST}/${source}:v1`, key: vendorKey.privateKey });
  await pushImage(vendorRegistry, source, signatureTag(img.digest), sig);
  return { sbom, sig };
}

describe('image-sync handler: destination first carries new referrers', () => {
  test('carries a signature and an SBOM added at the source since the first copy, reading no image manifest from the source', async () => {
    const { img, source, dst } = await syncedRelease();
    const { sbom, sig } = await vendorAddsReferrers(img, source);
    vendor.clearRequests();

    const result = await run(pinned(source, dst, img.digest, true));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    expect(logs.some((l) => l.includes('the tag already names the pinned digest'))).toBe(true);
    await expectImage(install, dst, signatureTag(img.digest), sig);
    await expectImage(install, dst, sbom.digest, sbom);
    expect((await readManifest(install, dst, referrersTag(img.children[1].digest)))?.body.toString()).toContain(sbom.digest);
    const carried = JSON.parse(logs.find((l) => l.includes('carried the source\'s referrers'))!);
    expect(carried).toMatchObject({ digest: img.digest, referrersCopied: 2, referrersFound: 2 });
    // The image's manifests came from the install's own copy: the source was asked only for referrers.
    const imageDigests = [img.digest, ...img.children.map((c) => c.digest)];
    expect(vendor.requests.filter((r) => imageDigests.some((d) => r.path.endsWith(`/manifests/${d}`)))).toEqual([]);
    expect(vendor.requests.filter((r) => r.path.includes('/blobs/') && !r.path.includes('uploads'))
      .every((r) => [...sbom.blobs.keys(), ...sig.blobs.keys()].some((d) => r.path.endsWith(d)))).toBe(true);
  });

  test('succeeds with the image in place and logs why when the source cannot be reached', async () => {
    const { img, source, dst } = await syncedRelease();
    await vendorAddsReferrers(img, source);
    const closed = `127.0.0.1:${await freePort()}`;

    const result = await run(pinned(source, dst, img.digest, true), closed);

    expect(result.IsComplete).toBe(true);
    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    await expectImage(install, dst, 'api-v1', img);
    const failed = JSON.parse(logs.find((l) => l.includes('could not carry the source\'s referrers'))!);
    expect(failed.digest).toBe(img.digest);
    expect(failed.reason).toMatch(/ECONNREFUSED|could not connect|refused/i);
  });

  test('asks the source nothing when referrers are off', async () => {
    const { img, source, dst } = await syncedRelease();
    const { sig } = await vendorAddsReferrers(img, source);
    vendor.clearRequests();

    await run(pinned(source, dst, img.digest, false));

    expect(vendor.requests).toEqual([]);
    expect((await readManifest(install, dst, signatureTag(img.digest)))?.digest).not.toBe(sig.digest);
  });
});
