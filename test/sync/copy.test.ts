import { Recorder, basicValue, expectNoSecrets } from './helpers';
import { CopyImageOptions, CopyResult, copyImage as engineCopyImage } from '../../src/sync/copy';
import { CopyError } from '../../src/sync/errors';
import { startFaultProxy } from '../support/fault-proxy';
import {
  BuiltImage, allBlobs, blobExists, buildArtifact, buildImage, buildIndex, expectImage, pushImage, readManifest,
} from '../support/images';
import { StartRegistryOptions, startRegistry, stopAll, TestRegistry } from '../support/registry';
import { tlsRoutes } from '../support/tls';

/**
 * The whole suite runs twice: against registries that speak plain HTTP on loopback, and against
 * the same registries over HTTPS with the bed's per-run CA, as every real registry is reached.
 */
const SCHEMES = ['http', 'https'] as const;

describe.each(SCHEMES)('over %s', (scheme) => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  const tls = scheme === 'https';
  /** A registry of the suite's scheme. */
  const start = (options: StartRegistryOptions = {}) => startRegistry({ ...options, tls });
  /** The engine, told how the suite's registries are reached. */
  const copyImage = (options: CopyImageOptions): Promise<CopyResult> => engineCopyImage({ ...(tls ? tlsRoutes() : {}), ...options });

  beforeAll(async () => {
    [plain, basic, token] = await Promise.all([start(), start({ auth: 'basic' }), start({ auth: 'token' })]);
  });

  afterAll(async () => {
    await stopAll();
  });

  let repoCounter = 0;
  function repo(name: string): string {
    return `${name}-${++repoCounter}`;
  }

  describe('copyImage: manifest kinds', () => {
    const kinds: [string, () => BuiltImage][] = [
      ['an OCI image', () => buildImage({ layers: [2048, 30_000] })],
      ['a Docker v2 schema 2 image', () => buildImage({ layers: [4096], format: 'docker' })],
      ['an OCI index', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8'], layers: [2048] })],
      ['a Docker manifest list', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm/v7'], layers: [1024], format: 'docker' })],
      ['a Helm chart artifact', () => buildArtifact({ kind: 'helm' })],
      ['an artifact with a subject', () => buildArtifact({ kind: 'sbom', subject: buildImage() })],
    ];

    test.each(kinds)('copies %s byte for byte with the same digest', async (_name, build) => {
      const img = build();
      const src = repo('kinds/src');
      const dst = repo('kinds/dst');
      await pushImage(plain, src, 'v1', img);
      const result = await copyImage({
        source: `${plain.host}/${src}:v1`,
        destination: `${token.host}/${dst}`,
        destinationCredentials: token.credentials(),
      });
      expect(result).toMatchObject({
        complete: true, digest: img.digest, sourceDigest: img.digest, mediaType: img.mediaType, tag: 'v1', alreadyPresent: false,
      });
      await expectImage(token, dst, 'v1', img);
      const blobs = allBlobs(img);
      expect(result.blobsCopied).toBe(blobs.size);
      expect(result.bytesCopied).toBe([...blobs.values()].reduce((n, b) => n + b.length, 0));
      const manifestBytes = img.manifest.length + img.children.reduce((n, c) => n + c.manifest.length, 0);
      expect(result.size).toBe(result.bytesCopied + manifestBytes);
      expect(result.platforms).toEqual(img.children.length > 0
        ? img.children.map(c => c.platform)
        : img.platform ? [img.platform] : []);
    });
  });

  describe('copyImage: what already exists', () => {
    test('a re-sync of an unchanged release answers alreadyPresent after one destination request and moves no bytes', async () => {
      const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [4096] });
      const src = repo('resync/src');
      const dst = repo('resync/dst');
      await pushImage(plain, src, '1.0', img);
      const proxy = await startFaultProxy(basic);
      try {
        const options = { source: `${plain.host}/${src}:1.0`, destination: `${proxy.host}/${dst}`, destinationCredentials: basic.credentials() };
        const first = await copyImage(options);
        expect(first.alreadyPresent).toBe(false);
        proxy.clearRequests();
        const again = await copyImage(options);
        const nothingMoved = { bytesCopied: 0, blobsCopied: 0, manifestsCopied: 0, blobsSkipped: first.blobsCopied };
        expect(again).toMatchObject({ complete: true, alreadyPresent: true, digest: img.digest, ...nothingMoved });
        // One HEAD of the tag, plus the Basic challenge round trip of a fresh client.
        const requests = proxy.requests.filter(r => r.status !== 401);
        expect(requests.map(r => `${r.method} ${r.path}`)).toEqual([`HEAD /v2/${dst}/manifests/1.0`]);
      } finally {
        await proxy.stop();
      }
    });

    test('copying to a new tag skips every blob and manifest the destination holds, then writes the tag', async () => {
      const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [4096, 1024] });
      const src = repo('newtag/src');
      const dst = repo('newtag/dst');
      await pushImage(plain, src, 'a', img);
      await copyImage({ source: `${plain.host}/${src}:a`, destination: `${plain.host}/${dst}:a` });
      const result = await copyImage({ source: `${plain.host}/${src}:a`, destination: `${plain.host}/${dst}:b` });
      expect(result).toMatchObject({
        alreadyPresent: false, bytesCopied: 0, blobsCopied: 0, blobsSkipped: allBlobs(img).size, manifestsSkipped: 2, manifestsCopied: 1,
      });
      await expectImage(plain, dst, 'b', img);
    });

    test('moves a tag that holds another digest and names the digest it held before', async () => {
      const [first, second] = [buildImage({ layers: [1000] }), buildImage({ layers: [2000] })];
      const src = repo('moved/src');
      const dst = repo('moved/dst');
      await pushImage(plain, src, 'one', first);
      await pushImage(plain, src, 'two', second);
      await copyImage({ source: `${plain.host}/${src}:one`, destination: `${plain.host}/${dst}:live` });
      const tags: string[] = [];
      const result = await copyImage({
        source: `${plain.host}/${src}:two`, destination: `${plain.host}/${dst}:live`, onProgress: e => e.kind === 'tag' && tags.push(e.message ?? ''),
      });
      expect(result.replacedDigest).toBe(first.digest);
      expect(tags).toEqual([`${plain.host}/${dst}:live -> ${second.digest} (moved from ${first.digest})`]);
      await expectImage(plain, dst, 'live', second);
    });

    test('fails with CONFLICT and writes nothing when noClobber meets a tag that holds another digest', async () => {
      const [first, second] = [buildImage({ layers: [1000] }), buildImage({ layers: [3000] })];
      const src = repo('noclobber/src');
      const dst = repo('noclobber/dst');
      await pushImage(plain, src, 'one', first);
      await pushImage(plain, src, 'two', second);
      await copyImage({ source: `${plain.host}/${src}:one`, destination: `${plain.host}/${dst}:live` });
      const error = await copyImage({ source: `${plain.host}/${src}:two`, destination: `${plain.host}/${dst}:live`, noClobber: true }).catch(e => e);
      expect(error).toBeInstanceOf(CopyError);
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toContain(`holds ${first.digest}, not ${second.digest}`);
      await expectImage(plain, dst, 'live', first);
      for (const digest of second.blobs.keys()) {
        expect(await blobExists(plain, dst, digest)).toBe(false);
      }
      const same = await copyImage({ source: `${plain.host}/${src}:one`, destination: `${plain.host}/${dst}:live`, noClobber: true });
      expect(same.alreadyPresent).toBe(true);
      expect(same).not.toHaveProperty('replacedDigest');
    });

    test('mounts blobs across repositories of the same registry instead of copying bytes', async () => {
      const img = buildImage({ layers: [8192, 8192] });
      const src = repo('mount/src');
      const dst = repo('mount/dst');
      await pushImage(token, src, 'v1', img);
      const result = await copyImage({
        source: `${token.host}/${src}:v1`,
        destination: `${token.host}/${dst}:v1`,
        sourceCredentials: token.credentials(),
        destinationCredentials: token.credentials(),
      });
      expect(result).toMatchObject({ complete: true, blobsMounted: img.blobs.size, blobsCopied: 0, bytesCopied: 0 });
      await expectImage(token, dst, 'v1', img);
    });

    test('copies by source digest, keeping the tag given for the destination', async () => {
      const img = buildImage();
      const src = repo('bydigest/src');
      const dst = repo('bydigest/dst');
      await pushImage(plain, src, undefined, img);
      const result = await copyImage({ source: `${plain.host}/${src}@${img.digest}`, destination: `${plain.host}/${dst}:pinned` });
      expect(result.tag).toBe('pinned');
      await expectImage(plain, dst, 'pinned', img);
    });

    test('copies by digest without any tag when neither side names one', async () => {
      const img = buildImage();
      const src = repo('untagged/src');
      const dst = repo('untagged/dst');
      await pushImage(plain, src, undefined, img);
      const result = await copyImage({ source: `${plain.host}/${src}@${img.digest}`, destination: `${plain.host}/${dst}` });
      expect(result.tag).toBeUndefined();
      await expectImage(plain, dst, img.digest, img);
      const again = await copyImage({ source: `${plain.host}/${src}@${img.digest}`, destination: `${plain.host}/${dst}` });
      expect(again.alreadyPresent).toBe(true);
    });
  });

  describe('copyImage: platform filter', () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'], layers: [2048] });
    const src = 'platforms/src';

    beforeAll(async () => {
      await pushImage(plain, src, 'multi', img);
    });

    test('writes a new index with only the chosen platforms: a new digest, reported next to the source digest', async () => {
      const dst = repo('platforms/dst');
      const result = await copyImage({ source: `${plain.host}/${src}:multi`, destination: `${plain.host}/${dst}`, platforms: ['linux/arm64'] });
      expect(result.sourceDigest).toBe(img.digest);
      expect(result.digest).not.toBe(img.digest);
      expect(result.platforms).toEqual(['linux/arm64/v8']);
      const written = await readManifest(plain, dst, 'multi');
      expect(written!.digest).toBe(result.digest);
      const index = JSON.parse(written!.body.toString('utf8'));
      expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([img.children[1].digest]);
      await expectImage(plain, dst, img.children[1].digest, img.children[1]);
      expect(await blobExists(plain, dst, [...img.children[0].blobs.keys()][1])).toBe(false);
      const again = await copyImage({ source: `${plain.host}/${src}:multi`, destination: `${plain.host}/${dst}`, platforms: ['linux/arm64'] });
      expect(again).toMatchObject({ alreadyPresent: true, digest: result.digest });
    });

    test('keeps the original index and digest when the filter selects every platform', async () => {
      const dst = repo('platforms/all');
      const result = await copyImage({
        source: `${plain.host}/${src}:multi`, destination: `${plain.host}/${dst}`, platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      });
      expect(result.digest).toBe(img.digest);
      await expectImage(plain, dst, 'multi', img);
    });

    test('fails with NOT_FOUND listing the platforms the index has', async () => {
      const error = await copyImage({ source: `${plain.host}/${src}:multi`, destination: `${plain.host}/platforms/none`, platforms: ['windows/amd64'] })
        .catch(e => e);
      expect(error).toBeInstanceOf(CopyError);
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toMatch(/no manifest for windows\/amd64; it has: linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7/);
    });

    test('fails when a single image is for another platform than the one asked for', async () => {
      const single = buildImage({ platform: 'linux/amd64' });
      await pushImage(plain, 'platforms/single', 'v1', single);
      await expect(copyImage({ source: `${plain.host}/platforms/single:v1`, destination: `${plain.host}/platforms/single-dst`, platforms: ['linux/arm64'] }))
        .rejects.toThrow(/single image for linux\/amd64, not linux\/arm64/);
    });
  });

  describe('copyImage: uploads', () => {
    test('uploads each missing blob with HEAD, POST and one PUT carrying the body', async () => {
      const img = buildImage({ layers: [50_000, 20_000] });
      const src = repo('mono/src');
      const dst = repo('mono/dst');
      await pushImage(plain, src, 'v1', img);
      const proxy = await startFaultProxy(plain);
      try {
        await copyImage({ source: `${plain.host}/${src}:v1`, destination: `${proxy.host}/${dst}` });
        const perBlob = proxy.requestsPerBlob();
        for (const digest of img.blobs.keys()) {
          expect((perBlob.get(digest) ?? []).map(r => r.method)).toEqual(['HEAD', 'POST', 'PUT']);
        }
        expect(proxy.requests.some(r => r.method === 'PATCH')).toBe(false);
      } finally {
        await proxy.stop();
      }
    });

    test('uploads in PATCH chunks of at least 5 MiB (but the last) when asked for chunked uploads', async () => {
      const img = buildImage({ layers: [11 * 1024 * 1024] });
      const src = repo('chunked/src');
      const dst = repo('chunked/dst');
      await pushImage(plain, src, 'v1', img);
      const proxy = await startFaultProxy(basic);
      try {
        const result = await copyImage({
          source: `${plain.host}/${src}:v1`,
          destination: `${proxy.host}/${dst}`,
          destinationCredentials: basic.credentials(),
          uploadMode: 'chunked',
          chunkSize: 5 * 1024 * 1024,
        });
        expect(result.complete).toBe(true);
        await expectImage(basic, dst, 'v1', img);
        const layer = [...img.blobs.entries()].find(([, b]) => b.length > 1024 * 1024)!;
        const patches = (proxy.requestsPerBlob().get(layer[0]) ?? []).filter(r => r.method === 'PATCH' && r.status === 202);
        expect(patches.length).toBe(3);
        patches.slice(0, -1).forEach(p => expect(p.requestBytes).toBeGreaterThanOrEqual(5 * 1024 * 1024));
        expect(patches.reduce((n, p) => n + p.requestBytes, 0)).toBe(layer[1].length);
      } finally {
        await proxy.stop();
      }
    });

    test('falls back to chunked uploads when the registry rejects a body on the closing PUT', async () => {
      const img = buildImage({ layers: [30_000] });
      const src = repo('fallback/src');
      const dst = repo('fallback/dst');
      await pushImage(plain, src, 'v1', img);
      const proxy = await startFaultProxy(plain);
      try {
        proxy.setFaults([{ match: { method: 'PUT', path: /\/blobs\/uploads\/.*digest=/ }, kind: 'status', status: 400, times: 1 }]);
        const recorder = new Recorder();
        const result = await copyImage({ source: `${plain.host}/${src}:v1`, destination: `${proxy.host}/${dst}`, onProgress: recorder.onProgress, concurrency: 1 });
        expect(result.complete).toBe(true);
        await expectImage(plain, dst, 'v1', img);
        expect(proxy.requests.some(r => r.method === 'PATCH')).toBe(true);
        expect(recorder.of('retry').map(e => e.message).join('\n')).toMatch(/switching to chunked uploads/);
      } finally {
        await proxy.stop();
      }
    });
  });

  describe('copyImage: deadline and resume', () => {
    test('does nothing when the deadline has already passed', async () => {
      const img = buildImage({ layers: [4096] });
      const src = repo('deadline/src');
      const dst = repo('deadline/dst');
      await pushImage(plain, src, undefined, img);
      const result = await copyImage({ source: `${plain.host}/${src}@${img.digest}`, destination: `${basic.host}/${dst}:v1`, deadline: Date.now() - 1 });
      expect(result).toMatchObject({ complete: false, digest: img.digest, blobsCopied: 0, bytesCopied: 0, manifestsCopied: 0 });
      expect(await readManifest(basic, dst, 'v1')).toBeUndefined();
      expect(await blobExists(basic, dst, [...img.blobs.keys()][0])).toBe(false);
    });

    test('stops mid-copy when aborted, then a second call resumes from what the destination holds', async () => {
      // Layers of 1 MiB and more take a whole transfer slot: with concurrency 1 they go one at a time.
      const img = buildImage({ layers: [1_300_000, 1_200_000, 1_100_000] });
      const src = repo('resume/src');
      const dst = repo('resume/dst');
      await pushImage(plain, src, 'v1', img);
      const controller = new AbortController();
      const first = await copyImage({
        source: `${plain.host}/${src}:v1`,
        destination: `${basic.host}/${dst}`,
        destinationCredentials: basic.credentials(),
        concurrency: 1,
        signal: controller.signal,
        onProgress: e => {
          if (e.kind === 'blob-done') {
            controller.abort();
          }
        },
      });
      expect(first.complete).toBe(false);
      expect(first.blobsCopied).toBe(1);
      expect(await readManifest(basic, dst, 'v1')).toBeUndefined();
      const second = await copyImage({ source: `${plain.host}/${src}:v1`, destination: `${basic.host}/${dst}`, destinationCredentials: basic.credentials() });
      expect(second).toMatchObject({ complete: true, blobsSkipped: 1, blobsCopied: img.blobs.size - 1 });
      await expectImage(basic, dst, 'v1', img);
    });

    test('aborts a transfer in flight without committing it, and the next call copies it whole', async () => {
      const img = buildImage({ layers: [6 * 1024 * 1024] });
      const src = repo('inflight/src');
      const dst = repo('inflight/dst');
      await pushImage(plain, src, 'v1', img);
      const layer = [...img.blobs.entries()].find(([, b]) => b.length > 1024 * 1024)![0];
      const controller = new AbortController();
      const first = await copyImage({
        source: `${plain.host}/${src}:v1`,
        destination: `${basic.host}/${dst}`,
        destinationCredentials: basic.credentials(),
        signal: controller.signal,
        onProgress: e => {
          if (e.kind === 'blob-progress' && e.digest === layer) {
            controller.abort();
          }
        },
      });
      expect(first).toMatchObject({ complete: false, digest: img.digest });
      expect(await blobExists(basic, dst, layer)).toBe(false);
      expect(await readManifest(basic, dst, 'v1')).toBeUndefined();
      const second = await copyImage({ source: `${plain.host}/${src}:v1`, destination: `${basic.host}/${dst}`, destinationCredentials: basic.credentials() });
      expect(second.complete).toBe(true);
      await expectImage(basic, dst, 'v1', img);
    });

    test('stops at the deadline while waiting out a Retry-After, and never writes the tag', async () => {
      const img = buildImage({ layers: [4096] });
      const src = repo('deadline-wait/src');
      const dst = repo('deadline-wait/dst');
      await pushImage(plain, src, 'v1', img);
      const proxy = await startFaultProxy(plain);
      try {
        proxy.setFaults([{ match: { method: 'POST' }, kind: 'status', status: 503, retryAfterSeconds: 30 }]);
        const started = Date.now();
        const result = await copyImage({ source: `${plain.host}/${src}:v1`, destination: `${proxy.host}/${dst}`, deadline: Date.now() + 700 });
        expect(result.complete).toBe(false);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(await readManifest(plain, dst, 'v1')).toBeUndefined();
      } finally {
        await proxy.stop();
      }
    });
  });

  describe('copyImage: authentication', () => {
    test('reads with Basic credentials and writes with Bearer tokens', async () => {
      const img = buildImage({ layers: [4096] });
      const src = repo('auth/src');
      const dst = repo('auth/dst');
      await pushImage(basic, src, 'v1', img);
      const recorder = new Recorder();
      const result = await copyImage({
        source: `${basic.host}/${src}:v1`,
        destination: `${token.host}/${dst}`,
        sourceCredentials: basic.credentials(),
        destinationCredentials: token.credentials(),
        onProgress: recorder.onProgress,
      });
      expect(result.complete).toBe(true);
      // One token for the whole destination side, scoped to pull,push on the one repository.
      const grants = token.tokenServer!.requests.filter(r => r.scopes.some(s => s.includes(dst)));
      expect(grants.map(g => g.scopes)).toEqual([[`repository:${dst}:pull,push`]]);
      await expectImage(token, dst, 'v1', img);
      expectNoSecrets(recorder.texts(), [basic.password, token.password, basicValue(basic.username, basic.password)]);
    });

    test('renews the token when it expires in the middle of a copy', async () => {
      const shortLived = await start({ auth: 'token', tokenTtlSeconds: 1 });
      const proxy = await startFaultProxy(shortLived);
      try {
        const img = buildImage({ layers: [4096, 4096] });
        const src = repo('expiry/src');
        const dst = repo('expiry/dst');
        await pushImage(plain, src, 'v1', img);
        // The registry asks the copy to wait past the token's lifetime before the uploads start.
        proxy.setFaults([{ match: { method: 'POST' }, kind: 'status', status: 429, retryAfterSeconds: 2, times: 1 }]);
        const result = await copyImage({ source: `${plain.host}/${src}:v1`, destination: `${proxy.host}/${dst}`, destinationCredentials: proxy.credentials() });
        expect(result.complete).toBe(true);
        const grants = shortLived.tokenServer!.requests.filter(r => r.scopes.some(sc => sc.includes(dst)) && r.status === 200);
        // The token was renewed before its expires_in ran out (a 401 would also renew it: see the fault tests).
        expect(grants.length).toBeGreaterThanOrEqual(2);
        await expectImage(shortLived, dst, 'v1', img);
      } finally {
        await proxy.stop();
        await shortLived.stop();
      }
    });

    test('fails with UNAUTHORIZED on a wrong password, and the password appears nowhere', async () => {
      const img = buildImage();
      const src = repo('badpw/src');
      await pushImage(basic, src, 'v1', img);
      const wrong = 'not-the-password-4711';
      const recorder = new Recorder();
      const error = await copyImage({
        source: `${basic.host}/${src}:v1`,
        destination: `${plain.host}/${repo('badpw/dst')}`,
        sourceCredentials: async () => ({ username: 'tester', password: wrong }),
        onProgress: recorder.onProgress,
      }).catch(e => e);
      expect(error).toBeInstanceOf(CopyError);
      expect(error.code).toBe('UNAUTHORIZED');
      expect(error.message).toContain(basic.host);
      expectNoSecrets(recorder.texts(error), [wrong, basicValue('tester', wrong)]);
    });

    test('fails with UNAUTHORIZED when the token service refuses the credentials', async () => {
      const error = await copyImage({
        source: `${token.host}/nothing/here:v1`,
        destination: `${plain.host}/x/y`,
        sourceCredentials: async () => ({ username: 'tester', password: 'wrong-secret-99' }),
      }).catch(e => e);
      expect(error.code).toBe('UNAUTHORIZED');
      expect(error.message).toMatch(/token service .* refused the credentials/);
      expect(error.message).not.toContain('wrong-secret-99');
    });

    test('fails with DENIED or UNAUTHORIZED when a read-only account tries to push', async () => {
      const img = buildImage();
      const src = repo('readonly/src');
      await pushImage(plain, src, 'v1', img);
      const reader = token.readOnlyUser!;
      const error = await copyImage({
        source: `${plain.host}/${src}:v1`,
        destination: `${token.host}/${repo('readonly/dst')}`,
        destinationCredentials: async () => reader,
      }).catch(e => e);
      expect(['DENIED', 'UNAUTHORIZED']).toContain(error.code);
      expectNoSecrets([error.message], [reader.password]);
    });
  });

  describe('copyImage: references', () => {
    test('fails with NOT_FOUND naming the missing source', async () => {
      const error = await copyImage({ source: `${plain.host}/missing/repo:v9`, destination: `${plain.host}/x/y` }).catch(e => e);
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toContain(`${plain.host}/missing/repo:v9 does not exist`);
    });

    test.each([
      ['a source without host', { source: 'app:v1', destination: '127.0.0.1:1/x' }, /source: Invalid image reference/],
      ['a destination digest', { source: '127.0.0.1:1/a:v1', destination: `127.0.0.1:1/b@sha256:${'0'.repeat(64)}` }, /must not name a digest/],
      ['a bad platform', { source: '127.0.0.1:1/a:v1', destination: '127.0.0.1:1/b', platforms: ['linux'] }, /Invalid platform "linux"/],
      ['a concurrency of 0', { source: '127.0.0.1:1/a:v1', destination: '127.0.0.1:1/b', concurrency: 0 }, /concurrency 0 is not allowed/],
      ['a chunk below 5 MiB', { source: '127.0.0.1:1/a:v1', destination: '127.0.0.1:1/b', chunkSize: 1024 }, /at least 5242880/],
    ])('fails with INVALID on %s before any request', async (_name, options, message) => {
      const error = await copyImage(options).catch(e => e);
      expect(error.code).toBe('INVALID');
      expect(error.message).toMatch(message);
    });
  });
});
