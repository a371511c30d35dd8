import { ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { Attributes, Props, SourceKinds } from '../../src/image-sync-contract';
import { handleEvent, IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import {
  INSTALL_HOST, VENDOR_HOST, createEvent, destinationProps, fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials,
} from '../support/handler-bed';
import { BuiltImage, buildImage, expectImage, listTags, pushImage } from '../support/images';
import { ReferrersFront, startReferrersFront } from '../support/referrers-front';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';
import { SignerIdentity, TestSigstore, bundleReferrer, startTestSigstore } from '../support/sigstore';

// The handler with a vendor registry that has the referrers API (the front) as source and an
// ECR-like install registry; bundles made by the test bed's Sigstore, its trusted root in the policy.
const GITHUB = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/vendor/api/.github/workflows/release.yml@refs/heads/main';

const ecrMock = mockClient(ECRClient);
let vendorRegistry: TestRegistry;
let front: ReferrersFront;
let install: TestRegistry;
let sigstore: TestSigstore;
let seq = 0;
let logs: string[] = [];

beforeAll(async () => {
  useFunctionRoleCredentials();
  [vendorRegistry, install] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
  front = await startReferrersFront(vendorRegistry);
  sigstore = await startTestSigstore();
});

afterAll(async () => {
  await front?.stop();
  await stopAll();
});

beforeEach(() => {
  logs = [];
  ecrMock.reset();
  fakeEcrLogin(ecrMock, install);
});

function deps() {
  return handlerDependencies({ [INSTALL_HOST]: install.host, [VENDOR_HOST]: front.host }, logs);
}

const policy = (identity: { issuer: string; subject?: string; subjectPattern?: string } = { issuer: GITHUB, subject: RELEASE }) =>
  JSON.stringify({ identities: [identity], trustedRoot: sigstore.trustedRoot });

function event(source: string, dst: string, extra: { [key: string]: unknown }): ImageSyncEvent {
  return createEvent({
    [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
    [Props.SOURCE_IMAGE]: `${VENDOR_HOST}/${source}:v1`,
    ...destinationProps(INSTALL_HOST, dst, 'api-v1'),
    ...extra,
  });
}

async function run(e: ImageSyncEvent): Promise<IsCompleteResponse> {
  return runProvider(e, deps());
}

type Release = { img: BuiltImage; source: string; bundle: BuiltImage };

async function signedRelease(identity: SignerIdentity = { issuer: GITHUB, subject: RELEASE }): Promise<Release> {
  const img = buildImage();
  const source = `vendor/api-${++seq}`;
  await pushImage(front, source, 'v1', img);
  const bundle = bundleReferrer(await sigstore.bundle({ digest: img.digest, identity }), img);
  await pushImage(front, source, undefined, bundle);
  return { img, source, bundle };
}

describe('image-sync handler: Sigstore verification', () => {
  test('reads the Sigstore policy and copies a release whose bundle the vendor\'s workflow signed, with the bundle', async () => {
    const { img, source, bundle } = await signedRelease();
    const dst = `install/api-${++seq}`;

    const result = await run(event(source, dst, { [Props.COPY_REFERRERS]: 'true', [Props.VERIFICATION_SIGSTORE]: policy() }));

    expect(result.Data![Attributes.IMAGE_DIGEST]).toBe(img.digest);
    await expectImage(install, dst, 'api-v1', img);
    await expectImage(install, dst, bundle.digest, bundle);
    const complete = JSON.parse(logs.find((l) => l.includes('"copy complete"'))!);
    expect(complete).toMatchObject({ signatureVerified: { manifest: bundle.digest } });
  });

  test('fails naming the image, the policy and the bundle found, and writes no tag, for another signer', async () => {
    const { img, source, bundle } = await signedRelease({ issuer: GITHUB, subject: 'https://github.com/attacker/api/.github/workflows/release.yml@refs/heads/main' });
    const dst = `install/api-${++seq}`;

    const failure = run(event(source, dst, { [Props.COPY_REFERRERS]: 'true', [Props.VERIFICATION_SIGSTORE]: policy() }));

    await expect(failure).rejects.toThrow(new RegExp(`${img.digest} is not signed as the policy requires \\(Sigstore identities issuer ${GITHUB} with subject ${RELEASE}\\)`));
    await expect(failure).rejects.toThrow(new RegExp(`${bundle.digest}: signed by issuer ${GITHUB}, subject https://github.com/attacker/`));
    expect(await listTags(install, dst)).toEqual([]);
  });

  test('does not tag a digest the repository already holds when a Sigstore policy is set and the source refuses', async () => {
    const { img, source } = await signedRelease({ issuer: 'https://accounts.google.com', subject: RELEASE });
    const dst = `install/api-${++seq}`;
    await pushImage(install, dst, undefined, img);
    const pinned = event(source, dst, { [Props.VERIFICATION_SIGSTORE]: policy() });
    pinned.ResourceProperties![Props.SOURCE_IMAGE] = `${VENDOR_HOST}/${source}@${img.digest}`;

    await expect(run(pinned)).rejects.toThrow(/is not signed as the policy requires/);
    expect(await listTags(install, dst)).toEqual([]);
  });

  test.each([
    ['not JSON', '{', `${Props.VERIFICATION_SIGSTORE} must be JSON`],
    ['no identity', JSON.stringify({ identities: [] }), `${Props.VERIFICATION_SIGSTORE} must be JSON`],
    ['an http issuer', JSON.stringify({ identities: [{ issuer: 'http://issuer.example', subject: 'a' }] }), 'identities[0] issuer "http://issuer.example" is not allowed'],
    ['a trusted root that is not one', JSON.stringify({ identities: [{ issuer: GITHUB, subject: 'a' }], trustedRoot: '{}' }), 'trustedRoot is not a Sigstore trusted root'],
  ])('fails on an invalid Sigstore policy: %s', async (_name, value, message) => {
    await expect(handleEvent(event('vendor/x', 'install/x', { [Props.VERIFICATION_SIGSTORE]: value }), deps(), () => 600_000)).rejects.toThrow(message);
  });
});
