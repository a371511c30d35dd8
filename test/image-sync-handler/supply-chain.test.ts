import { ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { Attributes, Props, SourceKinds } from '../../src/image-sync-contract';
import { handleEvent, IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { cosignKeyPair, cosignSignature, signatureTag } from '../support/cosign';
import { startFaultProxy } from '../support/fault-proxy';
import {
  INSTALL_HOST, VENDOR_HOST, createEvent, destinationProps, fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials,
} from '../support/handler-bed';
import { BuiltImage, buildImage, expectImage, listTags, pushImage } from '../support/images';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

// The handler with a vendor registry as source (anonymous) and an ECR-like install registry.
const ecrMock = mockClient(ECRClient);
let vendorRegistry: TestRegistry;
let install: TestRegistry;
let seq = 0;
let logs: string[] = [];

beforeAll(async () => {
  useFunctionRoleCredentials();
  [vendorRegistry, install] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
});

afterAll(async () => {
  await stopAll();
});

beforeEach(() => {
  logs = [];
  ecrMock.reset();
  fakeEcrLogin(ecrMock, install);
});

const vendorKey = cosignKeyPair();
const otherKey = cosignKeyPair();

function deps(installHost?: string) {
  return handlerDependencies({ [INSTALL_HOST]: installHost ?? install.host, [VENDOR_HOST]: vendorRegistry.host }, logs);
}

function event(source: string, dst: string, extra: { [key: string]: unknown }): ImageSyncEvent {
  return createEvent({
    [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
    [Props.SOURCE_IMAGE]: `${VENDOR_HOST}/${source}:v1`,
    ...destinationProps(INSTALL_HOST, dst, 'api-v1'),
    ...extra,
  });
}

async function run(e: ImageSyncEvent, installHost?: string): Promise<IsCompleteResponse> {
  return runProvider(e, deps(installHost));
}

async function signedRelease(): Promise<{ img: BuiltImage; source: string; sig: BuiltImage }> {
  const img = buildImage();
  const source = `vendor/api-${++seq}`;
  await pushImage(vendorRegistry, source, 'v1', img);
  const sig = cosignSignature({ digest: img.digest, dockerReference: `${VENDOR_HOST}/${source}`, key: vendorKey.privateKey });
  await pushImage(vendorRegistry, source, signatureTag(img.digest), sig);
  return { img, source, sig };
}

describe('image-sync handler: supply chain', () => {
  test('copies the release with its cosign signature when referrers are on and the signature verifies', async () => {
    const { img, source, sig } = await signedRelease();
    const dst = `install/api-${++seq}`;

    const result = await run(event(source, dst, { [Props.COPY_REFERRERS]: 'true', [Props.VERIFICATION_PUBLIC_KEYS]: [vendorKey.publicKeyPem] }));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    await expectImage(install, dst, 'api-v1', img);
    await expectImage(install, dst, signatureTag(img.digest), sig);
    const complete = JSON.parse(logs.find((l) => l.includes('"copy complete"'))!);
    expect(complete).toMatchObject({ referrersCopied: 1, referrersFound: 1, signatureVerified: { manifest: sig.digest } });
  });

  test('copies no referrer when the property is absent or false', async () => {
    const { img, source } = await signedRelease();
    const dst = `install/api-${++seq}`;

    await run(event(source, dst, { [Props.COPY_REFERRERS]: 'false' }));

    expect(await listTags(install, dst)).toEqual(['api-v1']);
    await expectImage(install, dst, 'api-v1', img);
  });

  test('fails naming the image, the policy and what was found, and writes no tag, when no signature verifies', async () => {
    const { img, source } = await signedRelease();
    const dst = `install/api-${++seq}`;

    const failure = run(event(source, dst, { [Props.COPY_REFERRERS]: 'true', [Props.VERIFICATION_PUBLIC_KEYS]: [otherKey.publicKeyPem] }));

    await expect(failure).rejects.toThrow(new RegExp(`^Copying ${VENDOR_HOST}/${source}:v1 to ${INSTALL_HOST}/${dst}:api-v1 failed: `
      + `.*${img.digest} is not signed as the policy requires \\(cosign public keys sha256:[0-9a-f]{16}\\): found 1 cosign signature`));
    await expect(failure).rejects.toThrow(/Nothing was tagged/);
    expect(await listTags(install, dst)).toEqual([]);
  });

  test('does not tag a digest the repository already holds from its own copy when a policy is set and the source refuses', async () => {
    const { img, source } = await signedRelease();
    const dst = `install/api-${++seq}`;
    await pushImage(install, dst, undefined, img);

    const pinned = event(source, dst, { [Props.VERIFICATION_PUBLIC_KEYS]: [otherKey.publicKeyPem] });
    pinned.ResourceProperties![Props.SOURCE_IMAGE] = `${VENDOR_HOST}/${source}@${img.digest}`;

    await expect(run(pinned)).rejects.toThrow(/is not signed as the policy requires/);
    expect(await listTags(install, dst)).toEqual([]);
  });

  test('fails saying the signature tags are immutable when a second signature cannot follow the release', async () => {
    const { img, source } = await signedRelease();
    const dst = `install/api-${++seq}`;
    const immutable = await startFaultProxy(install);
    try {
      immutable.setFaults([{ kind: 'immutable-tags', match: { method: 'PUT' } }]);
      await run(event(source, dst, { [Props.COPY_REFERRERS]: 'true' }), immutable.host);
      // The vendor adds a second signature: cosign pushes the .sig tag again with one more layer.
      const second = cosignSignature({ digest: img.digest, dockerReference: `${VENDOR_HOST}/${source}`, key: otherKey.privateKey });
      await pushImage(vendorRegistry, source, signatureTag(img.digest), second);

      await expect(run(event(source, dst, { [Props.COPY_REFERRERS]: 'true' }), immutable.host))
        .rejects.toThrow(/keeps the signature tags \(sha256-\*\) immutable.*mutableSignatureTags/);
    } finally {
      await immutable.stop();
    }
  });

  test.each([
    [Props.COPY_REFERRERS, 'yes', `${Props.COPY_REFERRERS} must be "true" or "false"`],
    [Props.VERIFICATION_PUBLIC_KEYS, [], `${Props.VERIFICATION_PUBLIC_KEYS} must be a non-empty list of PEM public keys`],
    [Props.VERIFICATION_PUBLIC_KEYS, 'pem', `${Props.VERIFICATION_PUBLIC_KEYS} must be a non-empty list of PEM public keys`],
  ])('fails on invalid properties: %s %j', async (key, value, message) => {
    await expect(handleEvent(event('vendor/x', 'install/x', { [key]: value }), deps(), () => 600_000)).rejects.toThrow(message);
  });
});
