import * as crypto from 'crypto';
import { Recorder, basicValue, expectNoSecrets } from './helpers';
import { CopyImageOptions, copyImage } from '../../src/sync/copy';
import { CopyError } from '../../src/sync/errors';
import { REQUEST_ATTEMPTS } from '../../src/sync/retry';
import { Fault, FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { BuiltImage, blobExists, buildImage, expectImage, pushImage, readManifest } from '../support/images';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';
import { Apis, RateLimiter, startThrottlingFront, ThrottlingFront } from '../support/throttling-front';

// Source: token auth (like Docker Hub), destination: Basic auth (like ECR), each behind a fault proxy.
let source: TestRegistry;
let destination: TestRegistry;
let src: FaultProxy;
let dst: FaultProxy;

beforeAll(async () => {
  [source, destination] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry({ auth: 'basic' })]);
  [src, dst] = await Promise.all([startFaultProxy(source), startFaultProxy(destination)]);
});

afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await stopAll();
});

let counter = 0;

/** Pushes a fresh image (one big layer, one small) to the source and returns names for a copy. */
async function fixture(): Promise<{ img: BuiltImage; layer: string; repo: string; options: CopyImageOptions; recorder: Recorder }> {
  const img = buildImage({ layers: [200_000, 3000] });
  const repo = `faults/app-${++counter}`;
  await pushImage(source, repo, 'v1', img);
  const layer = [...img.blobs.entries()].sort((a, b) => b[1].length - a[1].length)[0][0];
  const recorder = new Recorder();
  src.setFaults([]);
  dst.setFaults([]);
  src.clearRequests();
  dst.clearRequests();
  return {
    img,
    layer,
    repo,
    recorder,
    options: {
      source: `${src.host}/${repo}:v1`,
      destination: `${dst.host}/${repo}`,
      sourceCredentials: src.credentials(),
      destinationCredentials: dst.credentials(),
      onProgress: recorder.onProgress,
    },
  };
}

function secrets(): (string | undefined)[] {
  return [
    source.password, destination.password,
    basicValue(source.username, source.password), basicValue(destination.username, destination.password),
  ];
}

describe('copyImage under faults', () => {
  const survived: [string, (f: { layer: string; repo: string }) => { proxy: 'src' | 'dst'; faults: Fault[] }][] = [
    ['500 answers to manifest reads', () => ({ proxy: 'src', faults: [{ match: { method: 'GET', path: /\/manifests\// }, kind: 'status', status: 500, times: 2 }] })],
    ['a 429 with Retry-After on blob checks', () => ({
      proxy: 'dst', faults: [{ match: { method: 'HEAD', path: /\/blobs\// }, kind: 'status', status: 429, retryAfterSeconds: 1, times: 1 }],
    })],
    ['502 and 503 on upload starts', () => ({ proxy: 'dst', faults: [{ match: { method: 'POST' }, kind: 'status', status: 503, times: 2 }] })],
    ['a connection reset in the middle of a layer download', f => ({ proxy: 'src', faults: [{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'reset-mid-body', afterBytes: 50_000, times: 1 }] })],
    ['a truncated layer download', f => ({ proxy: 'src', faults: [{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'truncate', afterBytes: 100_000, times: 1 }] })],
    ['a corrupted layer download', f => ({ proxy: 'src', faults: [{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'corrupt', atByte: 12_345, times: 1 }] })],
    ['a connection reset in the middle of a layer upload', f => ({
      proxy: 'dst', faults: [{ match: { method: 'PUT', path: new RegExp(encodeURIComponent(f.layer)) }, kind: 'reset-mid-body', afterBytes: 30_000, times: 1 }],
    })],
    ['an expired token mid-copy on the source', f => ({ proxy: 'src', faults: [{ match: { path: new RegExp(f.layer) }, kind: 'expire-token', times: 1 }] })],
    ['rejected credentials mid-upload on the destination', () => ({ proxy: 'dst', faults: [{ match: { method: 'PUT', path: /\/blobs\/uploads\// }, kind: 'expire-token', times: 1 }] })],
    ['an expired token on the tag write', f => ({ proxy: 'dst', faults: [{ match: { method: 'PUT', path: new RegExp(`/v2/${f.repo}/manifests/v1`) }, kind: 'expire-token', times: 1 }] })],
  ];

  test.each(survived)('survives %s and copies the image exactly', async (name, make) => {
    const retried = !/token on|token mid-copy/.test(name);
    const f = await fixture();
    const { proxy, faults } = make(f);
    (proxy === 'src' ? src : dst).setFaults(faults);
    const result = await copyImage(f.options);
    expect(result.complete).toBe(true);
    const injected = (proxy === 'src' ? src : dst).requests.filter(r => r.fault !== undefined);
    expect(injected.length).toBeGreaterThan(0);
    // Re-authentication is part of a request, not a retry; everything else shows up as one.
    expect(f.recorder.of('retry').length > 0).toBe(retried);
    await expectImage(destination, f.repo, 'v1', f.img);
    expectNoSecrets(f.recorder.texts(), secrets());
  });

  test('waits as long as Retry-After asks', async () => {
    const f = await fixture();
    dst.setFaults([{ match: { method: 'HEAD', path: /\/manifests\// }, kind: 'status', status: 429, retryAfterSeconds: 1, times: 1 }]);
    const started = Date.now();
    await copyImage(f.options);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  test('detects a layer corrupted on every attempt, fails with DIGEST_MISMATCH and never commits the blob or moves the tag', async () => {
    const f = await fixture();
    src.setFaults([{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'corrupt', atByte: 1000 }]);
    const error = await copyImage(f.options).catch(e => e);
    expect(error).toBeInstanceOf(CopyError);
    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.message).toContain(f.layer);
    expect(await blobExists(destination, f.repo, f.layer)).toBe(false);
    expect(await readManifest(destination, f.repo, 'v1')).toBeUndefined();
    // Every upload of the corrupt layer was cut short of its Content-Length.
    const uploads = dst.requests.filter(r => r.method === 'PUT' && r.path.includes(encodeURIComponent(f.layer)));
    expect(uploads.length).toBeGreaterThan(0);
    uploads.forEach(u => expect(u.status).not.toBe(201));
    expectNoSecrets(f.recorder.texts(error), secrets());
  });

  test('reports a registry that keeps failing with REGISTRY, the status and the host, and leaves the tag alone', async () => {
    const f = await fixture();
    dst.setFaults([{ match: { method: 'PUT', path: /\/manifests\/v1$/ }, kind: 'status', status: 503 }]);
    const error = await copyImage(f.options).catch(e => e);
    expect(error.code).toBe('REGISTRY');
    expect(error.message).toMatch(new RegExp(`PUT manifest ${f.repo}:v1 on ${dst.host}/${f.repo} failed with HTTP 503`));
    expect(await readManifest(destination, f.repo, 'v1')).toBeUndefined();
    expectNoSecrets(f.recorder.texts(error), secrets());
  });

  /** The destination's upload sessions, by id: the requests of each (POST answer, PUT, DELETE). */
  function sessions(): Map<string, { method: string; status: number }[]> {
    const byId = new Map<string, { method: string; status: number }[]>();
    for (const r of dst.requests.filter(q => q.uploadId)) {
      byId.set(r.uploadId!, [...(byId.get(r.uploadId!) ?? []), { method: r.method, status: r.status }]);
    }
    return byId;
  }
  const posts = () => dst.requests.filter(r => r.method === 'POST');

  test('writes the retry of a download that failed before any byte into the upload session it already opened', async () => {
    const f = await fixture();
    src.setFaults([{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'truncate', afterBytes: 0, times: 1 }]);

    const result = await copyImage(f.options);

    expect(result.complete).toBe(true);
    expect(f.recorder.of('retry').some(e => e.digest === f.layer)).toBe(true);
    // One session per blob: the retry reused the layer's.
    expect(posts()).toHaveLength(f.img.blobs.size);
    expect([...sessions().values()]).toEqual(Array(f.img.blobs.size).fill([{ method: 'POST', status: 202 }, { method: 'PUT', status: 201 }]));
    // The retry looked for the layer again, then wrote it into the session of the first attempt.
    expect(dst.requests.filter(r => r.method === 'HEAD' && r.path.endsWith(f.layer))).toHaveLength(2);
    expect(dst.requests.filter(r => r.method === 'DELETE')).toEqual([]);
    await expectImage(destination, f.repo, 'v1', f.img);
  });

  test('cancels the session a download cut mid-body had written to before the retry opens a new one', async () => {
    const f = await fixture();
    // A clean close after 100,000 bytes: part of the layer has gone into the upload (a reset could discard it all).
    src.setFaults([{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'truncate', afterBytes: 100_000, times: 1 }]);

    const result = await copyImage(f.options);

    expect(result.complete).toBe(true);
    expect(posts()).toHaveLength(f.img.blobs.size + 1);
    // Every session opened was either completed or cancelled. Distribution itself drops a session
    // whose PUT was cut (its DELETE answers 404); a registry that keeps it has it cancelled.
    const opened = [...sessions().values()];
    expect(opened.filter(reqs => reqs.some(r => r.method === 'PUT' && r.status === 201))).toHaveLength(f.img.blobs.size);
    const cut = opened.filter(reqs => !reqs.some(r => r.method === 'PUT' && r.status === 201));
    expect(cut).toHaveLength(1);
    expect(cut[0].map(r => r.method)).toEqual(['POST', 'PUT', 'DELETE']);
    expect([204, 404]).toContain(cut[0][2].status);
    await expectImage(destination, f.repo, 'v1', f.img);
  });

  test('cancels the layer\'s open session when its download keeps being throttled and the copy fails', async () => {
    const f = await fixture();
    src.setFaults([{ match: { method: 'GET', path: new RegExp(f.layer) }, kind: 'status', status: 429, retryAfterSeconds: 0 }]);

    const error = await copyImage(f.options).catch(e => e);

    expect(error).toBeInstanceOf(CopyError);
    expect(error.message).toContain('429');
    const cancelled = dst.requests.filter(r => r.method === 'DELETE');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0].status).toBe(204);
    expect(sessions().get(cancelled[0].uploadId!)!.some(r => r.method === 'PUT')).toBe(false);
    expect(await readManifest(destination, f.repo, 'v1')).toBeUndefined();
  });

  test('follows blob redirects to another host without sending it the registry credentials', async () => {
    const f = await fixture();
    src.setFaults([{ match: {}, kind: 'redirect-blobs' }]);
    const result = await copyImage(f.options);
    expect(result.complete).toBe(true);
    const redirected = src.requests.filter(r => r.listener === 'redirect');
    expect(redirected.length).toBeGreaterThanOrEqual(f.img.blobs.size);
    redirected.forEach(r => {
      expect(r.authorization).toBeUndefined();
      expect(r.status).toBe(200);
    });
    await expectImage(destination, f.repo, 'v1', f.img);
  });
});

describe('copyImage against a throttling front (ECR-style 429 on manifest reads)', () => {
  let tenant: TestRegistry;
  let install: TestRegistry;
  const fronts: ThrottlingFront[] = [];

  beforeAll(async () => {
    [tenant, install] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry()]);
  });

  afterAll(async () => {
    await Promise.all(fronts.map(f => f.stop()));
  });

  /**
   * The tenant registry behind a throttling front whose BatchGetImage bucket holds one request,
   * which another caller has just taken. The bucket's clock stands still, so no token comes back,
   * until the front has refused `refusals` manifest reads; then it runs a thousand times faster:
   * the quota no longer binds.
   */
  async function throttled(refusals: number) {
    let limiter: RateLimiter | undefined;
    const refused = () => limiter?.throttled()[Apis.BATCH_GET_IMAGE] ?? 0;
    limiter = new RateLimiter({ [Apis.BATCH_GET_IMAGE]: { perSecond: 1, burst: 1 } }, () => (refused() >= refusals ? performance.now() * 1000 : 0));
    expect(limiter.take(Apis.BATCH_GET_IMAGE, 'another install')).toEqual({ admitted: true });
    const token = crypto.randomBytes(12).toString('hex');
    const front = await startThrottlingFront({ target: tenant, limiter, caller: t => (t === token ? 'install' : undefined) });
    fronts.push(front);
    const img = buildImage({ layers: [4096, 2048] });
    const repo = `throttled/app-${++counter}`;
    await pushImage(tenant, repo, 'v1', img);
    const options: CopyImageOptions = {
      source: `${front.host}/${repo}:v1`,
      destination: `${install.host}/${repo}`,
      sourceCredentials: async () => ({ username: 'AWS', password: token }),
    };
    return { img, repo, options, refused };
  }

  test('waits for the quota past the request\'s attempts within the deadline, and completes', async () => {
    const t = await throttled(REQUEST_ATTEMPTS + 2);
    const result = await copyImage({ ...t.options, deadline: Date.now() + 60_000 });
    expect(result.complete).toBe(true);
    expect(t.refused()).toBeGreaterThanOrEqual(REQUEST_ATTEMPTS + 2);
    await expectImage(install, t.repo, 'v1', t.img);
  }, 30_000);

  test('stops cleanly at the deadline while still throttled: not complete, no tag', async () => {
    const t = await throttled(Number.POSITIVE_INFINITY);
    const started = Date.now();
    const result = await copyImage({ ...t.options, deadline: Date.now() + 3000 });
    expect(result.complete).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(t.refused()).toBeGreaterThan(1);
    expect(await readManifest(install, t.repo, 'v1')).toBeUndefined();
  }, 30_000);

  test('without a deadline, a 429 counts against the request\'s attempts as before', async () => {
    const t = await throttled(Number.POSITIVE_INFINITY);
    const error = await copyImage(t.options).catch(e => e);
    expect(error).toBeInstanceOf(CopyError);
    expect(error.message).toContain('429');
    expect(t.refused()).toBe(REQUEST_ATTEMPTS);
    expect(await readManifest(install, t.repo, 'v1')).toBeUndefined();
  }, 30_000);
});
