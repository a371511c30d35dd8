import { parseTrustedKey } from '../../src/private/cosign-keys';
import { matchesIdentity } from '../../src/private/sigstore-policy';
import { copyImage } from '../../src/sync/copy';
import { CopyError } from '../../src/sync/errors';
import { statementProblem } from '../../src/sync/sigstore';
import { createBundleVerifier } from '../../src/sync/sigstore-verify';
import { cosignKeyPair } from '../support/cosign';
import { BuiltImage, blobExists, buildImage, expectImage, listTags, pushImage } from '../support/images';
import { ReferrersFront, startReferrersFront } from '../support/referrers-front';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';
import { BundleOptions, TestSigstore, bundleReferrer, startTestSigstore } from '../support/sigstore';

// A real bundle of Sigstore's public-good instance (Fulcio certificate, Rekor v2 entry, RFC 3161
// timestamp), from sigstore-js's verify test fixtures (V3.DSSE.WITH_SIGNING_CERT.TLOG_DSSEV002,
// Apache-2.0): a DSSE envelope of "hello, world!", signed as brian@dehamer.com via GitHub.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PUBLIC_GOOD_BUNDLE = require('../support/fixtures/public-good-dsse-bundle.json');

describe('Sigstore bundle verification, offline against the pinned public-good trusted root', () => {
  test('verifies a real public-good bundle and names its signer', () => {
    const signer = createBundleVerifier(undefined, []).verify(PUBLIC_GOOD_BUNDLE);

    expect(signer).toEqual({ subject: 'brian@dehamer.com', issuer: 'https://github.com/login/oauth' });
    expect(matchesIdentity([{ issuer: 'https://github.com/login/oauth', subject: 'brian@dehamer.com' }], signer)).toBe(true);
    expect(matchesIdentity([{ issuer: 'https://github.com/login/oauth', subjectPattern: '.*@dehamer\\.com' }], signer)).toBe(true);
  });

  test.each([
    ['another subject', { issuer: 'https://github.com/login/oauth', subject: 'someone@example.com' }],
    ['another issuer', { issuer: 'https://accounts.google.com', subject: 'brian@dehamer.com' }],
    ['a pattern that matches only part of the subject', { issuer: 'https://github.com/login/oauth', subjectPattern: 'brian' }],
  ])('refuses the real bundle\'s signer for a policy with %s', (_name, identity) => {
    const signer = createBundleVerifier(undefined, []).verify(PUBLIC_GOOD_BUNDLE);

    expect(matchesIdentity([identity], signer)).toBe(false);
  });

  test('says the real bundle is not a cosign image signature: it signs a text payload, not an in-toto statement', () => {
    expect(statementProblem(PUBLIC_GOOD_BUNDLE, `sha256:${'0'.repeat(64)}`)).toContain('signs a payload of type text/plain');
  });

  test('fails to verify the real bundle against another trusted root (its timestamp authority is not in it)', async () => {
    const other = await startTestSigstore();

    expect(() => createBundleVerifier(other.trustedRoot, []).verify(PUBLIC_GOOD_BUNDLE)).toThrow('timestamp could not be verified');
  });

  test('fails to verify the real bundle once its envelope is changed', () => {
    const changed = { ...PUBLIC_GOOD_BUNDLE, dsseEnvelope: { ...PUBLIC_GOOD_BUNDLE.dsseEnvelope, payload: Buffer.from('hello, world?').toString('base64') } };

    expect(() => createBundleVerifier(undefined, []).verify(changed)).toThrow();
  });
});

let src: TestRegistry;
let dst: TestRegistry;
let front: ReferrersFront;
let sigstore: TestSigstore;

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  front = await startReferrersFront(src);
  sigstore = await startTestSigstore();
});

afterAll(async () => {
  await front?.stop();
  await stopAll();
});

let repoCounter = 0;
function repo(name: string): string {
  return `${name}-${++repoCounter}`;
}

const GITHUB = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/vendor/app/.github/workflows/release.yml@refs/heads/main';
const vendor = { issuer: GITHUB, subject: RELEASE };
const policy = () => ({ verifyIdentities: [vendor], trustedRoot: sigstore.trustedRoot, bundleVerifier: () => createBundleVerifier });

/** Pushes `img` as `repo:v1` through the referrers front, with the bundles `bundles` makes attached as referrers. */
async function imageWithBundles(img: BuiltImage, ...bundles: Omit<BundleOptions, 'digest'>[]): Promise<{ from: string; referrers: BuiltImage[] }> {
  const from = repo('sigstore/src');
  await pushImage(front, from, 'v1', img);
  const referrers: BuiltImage[] = [];
  for (const b of bundles) {
    const referrer = bundleReferrer(await sigstore.bundle({ digest: img.digest, ...b }), img, b.predicateType);
    await pushImage(front, from, undefined, referrer);
    referrers.push(referrer);
  }
  return { from, referrers };
}

async function expectNothingWritten(to: string, img: BuiltImage): Promise<void> {
  expect(await listTags(dst, to)).toEqual([]);
  for (const digest of img.blobs.keys()) {
    expect(await blobExists(dst, to, digest)).toBe(false);
  }
}

describe('copyImage: Sigstore bundle verification', () => {
  test('copies an image whose bundle is signed by the policy\'s identity, with the bundle, at the same digests', async () => {
    const img = buildImage();
    const { from, referrers: [bundle] } = await imageWithBundles(img, { identity: vendor });
    const to = repo('sigstore/dst');

    const result = await copyImage({ source: `${front.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true, ...policy() });

    await expectImage(dst, to, 'v1', img);
    await expectImage(dst, to, bundle.digest, bundle);
    expect(result.signatures).toMatchObject({
      verified: true, sigstoreBundles: 1, signature: { manifest: bundle.digest, key: `issuer ${GITHUB}, subject ${RELEASE}` },
    });
  });

  test('copies when the subject matches the identity\'s pattern, past bundles that do not count', async () => {
    const img = buildImage();
    const { from } = await imageWithBundles(img,
      { identity: { issuer: GITHUB, subject: 'https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main' } },
      { identity: { issuer: GITHUB, subject: 'https://github.com/vendor/app/.github/workflows/release.yml@refs/tags/v1.2.3' } });
    const to = repo('pattern/dst');

    const result = await copyImage({
      source: `${front.host}/${from}:v1`,
      destination: `${dst.host}/${to}`,
      trustedRoot: sigstore.trustedRoot,
      bundleVerifier: () => createBundleVerifier,
      verifyIdentities: [{ issuer: GITHUB, subjectPattern: 'https://github\\.com/vendor/app/\\.github/workflows/release\\.yml@refs/tags/v.*' }],
    });

    expect(result.signatures?.verified).toBe(true);
    expect(result.signatures?.problems).toEqual([expect.stringContaining('not an identity of the policy')]);
    await expectImage(dst, to, 'v1', img);
  });

  test('copies an image with a key-signed bundle (cosign --key, new bundle format) under a key policy', async () => {
    const key = cosignKeyPair();
    const img = buildImage();
    const { from } = await imageWithBundles(img, { identity: vendor, key: key.privateKey });
    const to = repo('key-bundle/dst');

    const result = await copyImage({
      source: `${front.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [key.publicKeyPem], trustedRoot: sigstore.trustedRoot, bundleVerifier: () => createBundleVerifier,
    });

    const fingerprint = (parseTrustedKey(key.publicKeyPem) as { fingerprint: string }).fingerprint;
    expect(result.signatures).toMatchObject({ verified: true, signature: { key: fingerprint } });
    await expectImage(dst, to, 'v1', img);
  });

  const refusals: [string, () => Promise<{ img: BuiltImage; from: string }>, string][] = [
    ['signed by the right subject of another issuer', async () => {
      const img = buildImage();
      return { img, ...(await imageWithBundles(img, { identity: { issuer: 'https://accounts.google.com', subject: RELEASE } })) };
    }, `signed by issuer https://accounts.google.com, subject ${RELEASE}, not an identity of the policy`],
    ['signed by another subject of the right issuer', async () => {
      const img = buildImage();
      return { img, ...(await imageWithBundles(img, { identity: { issuer: GITHUB, subject: 'https://github.com/attacker/fork/.github/workflows/release.yml@refs/heads/main' } })) };
    }, 'attacker/fork'],
    ['whose bundle was tampered with after signing', async () => {
      const img = buildImage();
      return { img, ...(await imageWithBundles(img, { identity: vendor, tamperedDigest: img.digest.replace(/.$/, c => (c === '0' ? '1' : '0')) })) };
    }, 'a bundle that does not verify'],
    ['carrying the vendor\'s genuine bundle of another digest', async () => {
      const img = buildImage();
      const other = buildImage();
      const from = repo('other-digest/src');
      await pushImage(front, from, 'v1', img);
      const bundle = await sigstore.bundle({ digest: other.digest, identity: vendor });
      await pushImage(front, from, undefined, bundleReferrer(bundle, img));
      return { img, from };
    }, ', not sha256:'],
    ['carrying the vendor\'s attestation rather than a signature', async () => {
      const img = buildImage();
      return { img, ...(await imageWithBundles(img, { identity: vendor, predicateType: 'https://slsa.dev/provenance/v1' })) };
    }, 'is a https://slsa.dev/provenance/v1 attestation, not a cosign signature'],
    ['signed through another Sigstore (a bundle the trusted root does not vouch for)', async () => {
      const img = buildImage();
      const from = repo('other-sigstore/src');
      await pushImage(front, from, 'v1', img);
      const elsewhere = await startTestSigstore();
      await pushImage(front, from, undefined, bundleReferrer(await elsewhere.bundle({ digest: img.digest, identity: vendor }), img));
      return { img, from };
    }, 'a bundle that does not verify'],
    ['that carries no bundle', async () => {
      const img = buildImage();
      return { img, ...(await imageWithBundles(img)) };
    }, 'no Sigstore bundle'],
  ];

  test.each(refusals)('fails with UNVERIFIED for an image %s, naming the image, the policy and each bundle, and writes nothing', async (_name, prepare, finding) => {
    const { img, from } = await prepare();
    const to = repo('refused/dst');

    const copy = copyImage({ source: `${front.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true, ...policy() });

    const err = await copy.then(() => new Error('fails: the copy went through'), (e: unknown) => e) as CopyError;
    expect(err).toBeInstanceOf(CopyError);
    expect(err.code).toBe('UNVERIFIED');
    expect(err.message).toContain(`${front.host}/${from}@${img.digest}`);
    expect(err.message).toContain(`Sigstore identities issuer ${GITHUB} with subject ${RELEASE}`);
    expect(err.message).toContain(finding);
    expect(err.message).toContain('Nothing was tagged');
    await expectNothingWritten(to, img);
  });

  test('fails with UNVERIFIED for a bundle of another digest, naming the digest it signs', async () => {
    const img = buildImage();
    const other = buildImage();
    const from = repo('names-digest/src');
    await pushImage(front, from, 'v1', img);
    await pushImage(front, from, undefined, bundleReferrer(await sigstore.bundle({ digest: other.digest, identity: vendor }), img));

    await expect(copyImage({ source: `${front.host}/${from}:v1`, destination: `${dst.host}/${repo('names-digest/dst')}`, ...policy() }))
      .rejects.toMatchObject({ code: 'UNVERIFIED', message: expect.stringContaining(`signs ${other.digest}, not ${img.digest}`) });
  });

  test('examines at most 16 bundles and says so', async () => {
    const img = buildImage();
    const stranger = { issuer: GITHUB, subject: 'https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main' };
    const { from } = await imageWithBundles(img, ...Array.from({ length: 17 }, () => ({ identity: stranger })));

    await expect(copyImage({ source: `${front.host}/${from}:v1`, destination: `${dst.host}/${repo('many/dst')}`, ...policy() }))
      .rejects.toMatchObject({ code: 'UNVERIFIED', message: expect.stringContaining('more than 16 Sigstore bundles: the rest were not examined') });
  });

  test.each([
    ['an issuer that is not an https URL', { issuer: 'http://issuer.example', subject: 'a' }, 'verifyIdentities[0] issuer "http://issuer.example" is not allowed: an https URL'],
    ['both a subject and a pattern', { issuer: GITHUB, subject: 'a', subjectPattern: 'a' }, 'verifyIdentities[0] must have exactly one of subject and subjectPattern'],
    ['neither a subject nor a pattern', { issuer: GITHUB }, 'verifyIdentities[0] must have exactly one of subject and subjectPattern'],
    ['a pattern that does not compile', { issuer: GITHUB, subjectPattern: '(' }, 'verifyIdentities[0] subjectPattern "(" does not compile'],
  ])('fails with INVALID for an identity with %s', async (_name, identity, message) => {
    await expect(copyImage({ source: `${src.host}/a:v1`, destination: `${dst.host}/b`, verifyIdentities: [identity], bundleVerifier: () => createBundleVerifier }))
      .rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining(message) });
  });

  test.each([
    ['is not JSON', '{', 'trustedRoot is not JSON'],
    ['is JSON of another kind', '{"mediaType":"application/json"}', 'trustedRoot is not a Sigstore trusted root'],
  ])('fails with INVALID for a trusted root that %s', async (_name, trustedRoot, message) => {
    await expect(copyImage({ source: `${src.host}/a:v1`, destination: `${dst.host}/b`, ...policy(), trustedRoot }))
      .rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining(message) });
  });

  test('fails with INVALID for identities without a bundle verifier', async () => {
    await expect(copyImage({ source: `${src.host}/a:v1`, destination: `${dst.host}/b`, verifyIdentities: [vendor] }))
      .rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining('verifyIdentities needs bundleVerifier') });
  });
});
