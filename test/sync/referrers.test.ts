import { copyImage } from '../../src/sync/copy';
import { CopyError } from '../../src/sync/errors';
import { HttpPool } from '../../src/sync/http';
import { listReferrers, referrersTag } from '../../src/sync/referrers';
import { RegistryClient } from '../../src/sync/registry-client';
import { cosignKeyPair, cosignSignature, signatureTag } from '../support/cosign';
import {
  BuiltImage, MEDIA_TYPES, buildArtifact, buildImage, buildIndex, expectImage, listTags, pushImage, putManifest, readManifest, sha256,
} from '../support/images';
import { ReferrersFront, startReferrersFront } from '../support/referrers-front';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

let src: TestRegistry;
let dst: TestRegistry;
const fronts: ReferrersFront[] = [];

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
});

afterAll(async () => {
  await Promise.all(fronts.map(f => f.stop()));
  await stopAll();
});

async function front(target: TestRegistry, options: Parameters<typeof startReferrersFront>[1] = {}): Promise<ReferrersFront> {
  const f = await startReferrersFront(target, options);
  fronts.push(f);
  return f;
}

let repoCounter = 0;
function repo(name: string): string {
  return `${name}-${++repoCounter}`;
}

const key = cosignKeyPair();

/** An index of referrers as the tag schema (and oras, against a registry without the API) writes it. */
function schemaIndex(referrers: BuiltImage[]): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: referrers.map(r => ({ mediaType: r.mediaType, digest: r.digest, size: r.manifest.length, artifactType: r.artifactType })),
  }));
}

/** An image with an SBOM referrer listed by the tag schema and a cosign `.sig` tag, on a registry without the referrers API. */
async function signedOnTagSchemes(registry: TestRegistry, repository: string, img: BuiltImage): Promise<{ sbom: BuiltImage; sig: BuiltImage }> {
  await pushImage(registry, repository, 'v1', img);
  const sbom = buildArtifact({ kind: 'sbom', subject: img });
  await pushImage(registry, repository, undefined, sbom);
  await putManifest(registry, repository, referrersTag(img.digest), MEDIA_TYPES.ociIndex, schemaIndex([sbom]));
  const sig = cosignSignature({ digest: img.digest, dockerReference: `${registry.host}/${repository}`, key: key.privateKey });
  await pushImage(registry, repository, signatureTag(img.digest), sig);
  return { sbom, sig };
}

describe('copyImage: referrers through the tag schemes (a registry without the referrers API)', () => {
  test('copies the tag schema index, its referrers and the cosign tag with the same digests, and moves the tag', async () => {
    const img = buildImage({ layers: [2048] });
    const from = repo('schemes/src');
    const to = repo('schemes/dst');
    const { sbom, sig } = await signedOnTagSchemes(src, from, img);

    const result = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true });

    expect(result.referrers).toMatchObject({
      sourceVia: ['tag-schema'],
      destinationVia: 'tag-schema',
      found: 2,
      copied: 2,
      skipped: 0,
      cosignTags: [signatureTag(img.digest)],
      artifactTypes: [MEDIA_TYPES.spdx],
    });
    await expectImage(dst, to, 'v1', img);
    await expectImage(dst, to, sbom.digest, sbom);
    await expectImage(dst, to, signatureTag(img.digest), sig);
    const index = await readManifest(dst, to, referrersTag(img.digest));
    expect(index?.digest).toBe(sha256(schemaIndex([sbom])));
    expect(await listTags(dst, to)).toEqual([referrersTag(img.digest), signatureTag(img.digest), 'v1'].sort());
  });

  test('copies no referrer unless asked', async () => {
    const img = buildImage();
    const from = repo('off/src');
    const to = repo('off/dst');
    await signedOnTagSchemes(src, from, img);

    const result = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}` });

    expect(result.referrers).toBeUndefined();
    expect(await listTags(dst, to)).toEqual(['v1']);
  });

  test('merges the referrers into a tag schema index the destination already has', async () => {
    const img = buildImage();
    const from = repo('merge/src');
    const to = repo('merge/dst');
    const { sbom } = await signedOnTagSchemes(src, from, img);
    const theirs = buildArtifact({ kind: 'sbom', subject: img });
    await pushImage(dst, to, undefined, theirs);
    await putManifest(dst, to, referrersTag(img.digest), MEDIA_TYPES.ociIndex, schemaIndex([theirs]));

    await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true });

    const index = JSON.parse((await readManifest(dst, to, referrersTag(img.digest)))!.body.toString('utf8'));
    expect(index.manifests.map((d: { digest: string }) => d.digest)).toEqual([theirs.digest, sbom.digest]);
  });

  test('leaves out a referrer the source lists but no longer has, and lists only what it copied', async () => {
    const img = buildImage();
    const from = repo('stale/src');
    const to = repo('stale/dst');
    const { sbom } = await signedOnTagSchemes(src, from, img);
    const gone = buildArtifact({ kind: 'sbom', subject: img });
    await pushImage(src, from, undefined, gone);
    await putManifest(src, from, referrersTag(img.digest), MEDIA_TYPES.ociIndex, schemaIndex([sbom, gone]));
    // Deleted without updating the index, as a client that does not know the tag schema leaves it.
    expect((await fetch(`${src.url}/v2/${from}/manifests/${gone.digest}`, { method: 'DELETE' })).status).toBe(202);

    const result = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true });

    expect(result.referrers).toMatchObject({ found: 3, copied: 2, missing: 1 });
    expect((await readManifest(dst, to, referrersTag(img.digest)))?.digest).toBe(sha256(schemaIndex([sbom])));
    await expectImage(dst, to, 'v1', img);
  });

  test('copies the referrers of each platform manifest of an index', async () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] });
    const from = repo('platforms/src');
    const to = repo('platforms/dst');
    await pushImage(src, from, 'v1', img);
    const arm = img.children[1];
    const sbom = buildArtifact({ kind: 'sbom', subject: arm });
    await pushImage(src, from, undefined, sbom);
    await putManifest(src, from, referrersTag(arm.digest), MEDIA_TYPES.ociIndex, schemaIndex([sbom]));

    const result = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true });

    expect(result.referrers).toMatchObject({ found: 1, copied: 1 });
    await expectImage(dst, to, sbom.digest, sbom);
    expect((await readManifest(dst, to, referrersTag(arm.digest)))?.digest).toBe(sha256(schemaIndex([sbom])));
  });

  test('with a platform subset, carries the platform manifests\' referrers and reports the source index\'s as left behind', async () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] });
    const from = repo('subset/src');
    const to = repo('subset/dst');
    await pushImage(src, from, 'v1', img);
    const arm = img.children[1];
    const armSbom = buildArtifact({ kind: 'sbom', subject: arm });
    await pushImage(src, from, undefined, armSbom);
    await putManifest(src, from, referrersTag(arm.digest), MEDIA_TYPES.ociIndex, schemaIndex([armSbom]));
    const indexSbom = buildArtifact({ kind: 'sbom', subject: img });
    await pushImage(src, from, undefined, indexSbom);
    await putManifest(src, from, referrersTag(img.digest), MEDIA_TYPES.ociIndex, schemaIndex([indexSbom]));
    const sig = cosignSignature({ digest: img.digest, dockerReference: `${src.host}/${from}`, key: key.privateKey });
    await pushImage(src, from, signatureTag(img.digest), sig);

    const result = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true, platforms: ['linux/arm64'] });

    expect(result.digest).not.toBe(img.digest);
    expect(result.referrers).toMatchObject({ found: 1, copied: 1, indexLeftBehind: { digest: img.digest, referrers: 2 } });
    await expectImage(dst, to, armSbom.digest, armSbom);
    // A signature of the whole index does not sign the subset: neither it nor the index's SBOM is written.
    expect(await listTags(dst, to)).toEqual([referrersTag(arm.digest), 'v1'].sort());
    expect(await readManifest(dst, to, indexSbom.digest)).toBeUndefined();

    const all = await copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${repo('subset/all')}`, referrers: true });
    expect(all.referrers?.indexLeftBehind).toBeUndefined();
    expect(all.referrers).toMatchObject({ found: 3, copied: 3 });
  });

  test('a re-sync of a copied image carries a signature added since, and leaves the tag in place', async () => {
    const img = buildImage();
    const from = repo('later/src');
    const to = repo('later/dst');
    await pushImage(src, from, 'v1', img);
    const options = { source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true };
    const first = await copyImage(options);
    expect(first.referrers).toMatchObject({ found: 0, copied: 0 });
    const sig = cosignSignature({ digest: img.digest, dockerReference: `${src.host}/${from}`, key: key.privateKey });
    await pushImage(src, from, signatureTag(img.digest), sig);

    const again = await copyImage(options);

    expect(again).toMatchObject({ alreadyPresent: true, referrers: { found: 1, copied: 1 } });
    await expectImage(dst, to, signatureTag(img.digest), sig);
    const third = await copyImage(options);
    expect(third.referrers).toMatchObject({ found: 1, copied: 0, skipped: 1 });
  });

  test('fails with LIMIT beyond maxReferrers and writes no tag', async () => {
    const img = buildImage();
    const from = repo('cap/src');
    const to = repo('cap/dst');
    await signedOnTagSchemes(src, from, img);

    const copy = copyImage({ source: `${src.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true, maxReferrers: 1 });

    await expect(copy).rejects.toThrow(CopyError);
    await expect(copy).rejects.toMatchObject({ code: 'LIMIT', message: expect.stringContaining('maxReferrers') });
    expect(await listTags(dst, to)).toEqual([]);
  });

  test('fails on a maxReferrers that is not a positive integer', async () => {
    await expect(copyImage({ source: `${src.host}/a:v1`, destination: `${dst.host}/b`, referrers: true, maxReferrers: 0 }))
      .rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining('maxReferrers 0') });
  });
});

describe('copyImage: referrers through the OCI 1.1 referrers API', () => {
  test('finds referrers through the source API and leaves the destination API to index them', async () => {
    const srcFront = await front(src);
    const dstFront = await front(dst);
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] });
    const from = repo('api/src');
    const to = repo('api/dst');
    await pushImage(srcFront, from, 'v1', img);
    const sbom = buildArtifact({ kind: 'sbom', subject: img });
    const sig = cosignSignature({
      digest: img.digest,
      dockerReference: `${src.host}/${from}`,
      key: key.privateKey,
      mode: 'referrer',
      subject: { mediaType: img.mediaType, size: img.manifest.length },
    });
    await pushImage(srcFront, from, undefined, sbom);
    await pushImage(srcFront, from, undefined, sig);

    const result = await copyImage({ source: `${srcFront.host}/${from}:v1`, destination: `${dstFront.host}/${to}`, referrers: true });

    expect(result.referrers).toMatchObject({ sourceVia: ['api'], destinationVia: 'api', found: 2, copied: 2 });
    expect(dstFront.referrersOf(to, img.digest).map(d => d.digest).sort()).toEqual([sbom.digest, sig.digest].sort());
    await expectImage(dst, to, sig.digest, sig);
    // The destination has the API: no tag schema index is written.
    expect(await listTags(dst, to)).toEqual(['v1']);
  });

  test('writes the tag schema index at a destination without the API', async () => {
    const srcFront = await front(src);
    const img = buildImage();
    const from = repo('api-to-schema/src');
    const to = repo('api-to-schema/dst');
    await pushImage(srcFront, from, 'v1', img);
    const sbom = buildArtifact({ kind: 'sbom', subject: img });
    await pushImage(srcFront, from, undefined, sbom);

    const result = await copyImage({ source: `${srcFront.host}/${from}:v1`, destination: `${dst.host}/${to}`, referrers: true });

    expect(result.referrers).toMatchObject({ sourceVia: ['api'], destinationVia: 'tag-schema', copied: 1 });
    const index = JSON.parse((await readManifest(dst, to, referrersTag(img.digest)))!.body.toString('utf8'));
    expect(index.manifests).toEqual([{
      mediaType: MEDIA_TYPES.ociManifest,
      digest: sbom.digest,
      size: sbom.manifest.length,
      artifactType: MEDIA_TYPES.spdx,
      annotations: expect.any(Object),
    }]);
  });

  test('listReferrers follows every page and filters by artifactType itself when the registry does not', async () => {
    const paged = await front(src, { pageSize: 1, ignoreFilters: true });
    const img = buildImage();
    const from = repo('pages');
    await pushImage(paged, from, 'v1', img);
    const sboms = [buildArtifact({ kind: 'sbom', subject: img }), buildArtifact({ kind: 'sbom', subject: img })];
    const sig = cosignSignature({ digest: img.digest, dockerReference: 'x/y', key: key.privateKey, mode: 'referrer', subject: { mediaType: img.mediaType, size: img.manifest.length } });
    for (const r of [...sboms, sig]) await pushImage(paged, from, undefined, r);
    const pool = new HttpPool({ maxSockets: 4, plainHttp: () => true });
    try {
      const client = new RegistryClient({ registry: paged.host, plainHttp: true, pool });

      const all = await listReferrers(client, from, img.digest);
      const signatures = await listReferrers(client, from, img.digest, { artifactType: sig.artifactType });

      expect(all.via).toBe('api');
      expect(all.descriptors.map(d => d.digest)).toEqual([...sboms, sig].map(r => r.digest));
      expect(signatures.descriptors.map(d => d.digest)).toEqual([sig.digest]);
      expect(paged.referrerRequests.filter(r => r.includes('page=')).length).toBeGreaterThanOrEqual(4);
      await expect(listReferrers(client, from, img.digest, { max: 2 })).rejects.toMatchObject({ code: 'LIMIT' });
    } finally {
      pool.close();
    }
  });
});
