import * as crypto from 'crypto';
import { parseTrustedKey } from '../../src/private/cosign-keys';
import { copyImage } from '../../src/sync/copy';
import { CopyError } from '../../src/sync/errors';
import { cosignKeyPair, cosignSignature, signatureTag, simpleSigningPayload } from '../support/cosign';
import { BuiltImage, blobExists, buildArtifact, buildImage, buildIndex, expectImage, listTags, pushImage } from '../support/images';
import { startReferrersFront } from '../support/referrers-front';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

let src: TestRegistry;
let dst: TestRegistry;

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
});

afterAll(async () => {
  await stopAll();
});

let repoCounter = 0;
function repo(name: string): string {
  return `${name}-${++repoCounter}`;
}

// Keys made per run; the vendor's key signs, another key stands for anyone else's.
const vendor = cosignKeyPair();
const stranger = cosignKeyPair();

type SignatureExtras = Partial<Parameters<typeof cosignSignature>[0]>;

/** Pushes `img` as `repo:v1` with a cosign signature (cosign's tag) made by `signer`. */
async function signedImage(img: BuiltImage, signer = vendor, extra: SignatureExtras = {}): Promise<{ from: string; sig: BuiltImage }> {
  const from = repo('signed/src');
  await pushImage(src, from, 'v1', img);
  const sig = cosignSignature({ digest: img.digest, dockerReference: `${src.host}/${from}`, key: signer.privateKey, ...extra });
  await pushImage(src, from, signatureTag(img.digest), sig);
  return { from, sig };
}

async function expectNothingWritten(to: string, img: BuiltImage): Promise<void> {
  expect(await listTags(dst, to)).toEqual([]);
  for (const digest of img.blobs.keys()) {
    expect(await blobExists(dst, to, digest)).toBe(false);
  }
}

describe('copyImage: cosign key verification', () => {
  test('copies an image whose cosign signature verifies with the key, and reports the signature and key', async () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] });
    const { from, sig } = await signedImage(img);
    const to = repo('signed/dst');

    const result = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [stranger.publicKeyPem, vendor.publicKeyPem] });

    await expectImage(dst, to, 'v1', img);
    const fingerprint = (parseTrustedKey(vendor.publicKeyPem) as { fingerprint: string }).fingerprint;
    expect(result.signatures).toMatchObject({ verified: true, cosignSignatures: 1, signature: { manifest: sig.digest, key: fingerprint } });
  });

  test('copies the signature with the image when referrers travel too, so the install can verify it again', async () => {
    const img = buildImage();
    const { from, sig } = await signedImage(img);
    const to = repo('signed/dst');

    await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [vendor.publicKeyPem], referrers: true });

    await expectImage(dst, to, signatureTag(img.digest), sig);
  });

  test('verifies a signature stored as an OCI 1.1 referrer (cosign\'s OCI 1.1 mode)', async () => {
    const front = await startReferrersFront(src);
    try {
      const img = buildImage();
      const from = repo('referrer/src');
      const to = repo('referrer/dst');
      await pushImage(front, from, 'v1', img);
      const sig = cosignSignature({
        digest: img.digest, dockerReference: `${src.host}/${from}`, key: vendor.privateKey, mode: 'referrer', subject: { mediaType: img.mediaType, size: img.manifest.length },
      });
      await pushImage(front, from, undefined, sig);

      const result = await copyImage({ source: `${front.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [vendor.publicKeyPem] });

      expect(result.signatures).toMatchObject({ verified: true, signature: { manifest: sig.digest } });
      await expectImage(dst, to, 'v1', img);
    } finally {
      await front.stop();
    }
  });

  test('verifies an RSA-PSS signature (a KMS RSA key whose first algorithm is RSASSA_PSS_SHA_256)', async () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const img = buildImage();
    const pss = { key: rsa.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    const { from } = await signedImage(img, { privateKey: rsa.privateKey, publicKeyPem: '' }, { signWith: pss });
    const to = repo('rsa-pss/dst');

    const result = await copyImage({
      source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    });

    expect(result.signatures?.verified).toBe(true);
  });

  test('verifies an RSA signature (an AWS KMS RSA key) with its public key', async () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const img = buildImage();
    const { from } = await signedImage(img, { privateKey: rsa.privateKey, publicKeyPem: '' });
    const to = repo('rsa/dst');

    const result = await copyImage({
      source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    });

    expect(result.signatures?.verified).toBe(true);
  });

  const refusals: [string, () => Promise<{ img: BuiltImage; from: string }>, string][] = [
    ['signed with another key', async () => {
      const img = buildImage();
      return { img, ...(await signedImage(img, stranger)) };
    }, 'a signature that verifies with none of the keys'],
    ['whose payload was tampered with after signing', async () => {
      const img = buildImage();
      const tampered = simpleSigningPayload('attacker.example/app', img.digest);
      return { img, ...(await signedImage(img, vendor, { tamperedPayload: tampered })) };
    }, 'a signature that verifies with none of the keys'],
    ['carrying the vendor\'s genuine signature of another digest', async () => {
      const img = buildImage();
      const other = buildImage();
      return { img, ...(await signedImage(img, vendor, { payload: simpleSigningPayload(`${src.host}/x`, other.digest) })) };
    }, 'whose payload signs'],
    ['that is not signed at all', async () => {
      const img = buildImage();
      const from = repo('unsigned/src');
      await pushImage(src, from, 'v1', img);
      return { img, from };
    }, 'no cosign signature'],
  ];

  test.each(refusals)('fails with UNVERIFIED for an image %s, naming the image, the policy and what was found, and writes nothing', async (_name, prepare, finding) => {
    const { img, from } = await prepare();
    const to = repo('refused/dst');

    const copy = copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [vendor.publicKeyPem], referrers: true });

    const err = await copy.then(() => new Error('fails: the copy went through'), (e: unknown) => e) as CopyError;
    expect(err).toBeInstanceOf(CopyError);
    expect(err.code).toBe('UNVERIFIED');
    const fingerprint = (parseTrustedKey(vendor.publicKeyPem) as { fingerprint: string }).fingerprint;
    expect(err.message).toContain(`${src.host}/${from}@${img.digest}`);
    expect(err.message).toContain(`cosign public keys ${fingerprint}`);
    expect(err.message).toContain(finding);
    expect(err.message).toContain('Nothing was tagged');
    await expectNothingWritten(to, img);
  });

  test('fails with UNVERIFIED when the destination already holds the image but the policy refuses it', async () => {
    const img = buildImage();
    const { from } = await signedImage(img, stranger);
    const to = repo('held/dst');
    await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}` });

    await expect(copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, verifyKeys: [vendor.publicKeyPem] }))
      .rejects.toMatchObject({ code: 'UNVERIFIED' });
  });

  test('reports Notation signatures as present without counting them', async () => {
    const front = await startReferrersFront(src);
    try {
      const img = buildImage();
      const from = repo('notation/src');
      await pushImage(front, from, 'v1', img);
      const notation = buildArtifact({ kind: 'sbom', subject: img });
      const json = JSON.parse(notation.manifest.toString('utf8'));
      json.artifactType = 'application/vnd.cncf.notary.signature';
      const manifest = Buffer.from(JSON.stringify(json));
      await pushImage(front, from, undefined, { ...notation, manifest, digest: `sha256:${crypto.createHash('sha256').update(manifest).digest('hex')}` });

      const copy = copyImage({ source: `${front.host}/${from}:v1`, destination: `${dst.host}/${repo('notation/dst')}`, verifyKeys: [vendor.publicKeyPem] });

      await expect(copy).rejects.toMatchObject({ code: 'UNVERIFIED', message: expect.stringContaining('1 Notation signature(s) (present, not verified') });
    } finally {
      await front.stop();
    }
  });

  const pem = (key: crypto.KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
  test.each([
    ['is not a PEM key', 'not a key', 'is not a PEM public key'],
    ['is on another curve than P-256', pem(crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey), 'is an EC key on secp384r1'],
    ['is an Ed25519 key', pem(crypto.generateKeyPairSync('ed25519').publicKey), 'is an ed25519 key'],
    ['is an RSA key below 2048 bits', pem(crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), 'is an RSA key of 1024 bits'],
  ])('fails with INVALID for a verify key that %s', async (_name, key, message) => {
    await expect(copyImage({ source: `${src.host}/a:v1`, destination: `${dst.host}/b`, verifyKeys: [key] }))
      .rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining(`verifyKeys[0] ${message}`) });
  });
});
