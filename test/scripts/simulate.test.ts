import * as fs from 'fs';
import * as path from 'path';
import { FanoutResult, modelMismatches, runFanout } from '../support/fanout';
import { REQUESTS_PER_SYNC, RESYNC_CASES, renderInstallTable, renderResyncTable, renderTenantTable } from '../support/fanout-model';
import { measureResyncRequests } from '../support/referrer-requests';
import { startRegistry, stopAll } from '../support/registry';
import { Apis, apiOf, RateLimiter } from '../support/throttling-front';

const SCALING_DOC = path.join(__dirname, '..', '..', 'docs', 'scaling.md');

describe('scripts/simulate (the fan-out simulation)', () => {
  let result: FanoutResult;

  beforeAll(async () => {
    // Quotas over 400 with one-second buckets: 8 installs are throttled hard on the front
    // (BatchGetImage first: 15 per sync with referrers on, 5 per second admitted).
    result = await runFanout({ installs: 8, scale: 400, burstSeconds: 1, pollIntervalMs: 2000, syncTimeoutSeconds: 60 });
  }, 90_000);

  afterAll(async () => {
    await stopAll();
  });

  test('every sync succeeds through the handler while the tenant registry throttles it', () => {
    expect(result.syncs.filter((s) => !s.ok).map((s) => `${s.install}: ${s.error}`)).toEqual([]);
    expect(result.succeeded).toBe(8);
    expect(result.failed).toBe(0);
    expect(result.throttledByApi[Apis.BATCH_GET_IMAGE] ?? 0).toBeGreaterThan(0);
    expect(result.throttled).toBe(Object.values(result.throttledByApi).reduce((a, b) => a + b, 0));
  });

  test('every destination tag holds the release digest with every manifest and blob under it', () => {
    expect(result.checkFailures).toEqual([]);
  });

  test('a throttled sync waits for the quota within its poll: one poll each, the requests per API that docs/scaling.md states', () => {
    expect(modelMismatches(result)).toEqual([]);
    expect(result.syncs.map((s) => ({ install: s.install, polls: s.polls }))).toEqual(result.syncs.map((s) => ({ install: s.install, polls: 1 })));
    expect(result.syncs.some((s) => s.throttled > 0)).toBe(true);
    for (const sync of result.syncs) {
      for (const [api, perSync] of Object.entries(REQUESTS_PER_SYNC).filter(([name]) => !name.startsWith('install:'))) {
        expect({ install: sync.install, api, requests: sync.requests[api] ?? 0 }).toEqual({ install: sync.install, api, requests: perSync });
      }
    }
    for (const [api, total] of Object.entries(result.requests)) {
      expect({ api, total: total >= REQUESTS_PER_SYNC[api] * result.installs }).toEqual({ api, total: true });
    }
  });

  test('docs/scaling.md shows the model tables as the model renders them', () => {
    const doc = fs.readFileSync(SCALING_DOC, 'utf8');
    expect(doc).toContain(renderTenantTable());
    expect(doc).toContain(renderInstallTable());
    expect(doc).toContain(renderResyncTable());
  });
});

describe('what referrers cost a re-sync', () => {
  afterAll(async () => {
    await stopAll();
  });

  test('a re-sync of the release makes the source requests the model states, with and without the referrers API', async () => {
    const [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
    const measured = await measureResyncRequests(source, destination);
    expect(measured).toEqual(Object.fromEntries(RESYNC_CASES.map((c) => [c.name, { withApi: c.withApi, withoutApi: c.withoutApi }])));
  }, 60_000);
});

describe('throttling front', () => {
  test.each([
    ['GET', '/v2/acme/app/manifests/1.0.0', Apis.BATCH_GET_IMAGE],
    ['HEAD', '/v2/acme/app/manifests/sha256:' + 'a'.repeat(64), Apis.BATCH_GET_IMAGE],
    ['PUT', '/v2/acme/app/manifests/1.0.0', Apis.PUT_IMAGE],
    ['HEAD', '/v2/acme/app/blobs/sha256:' + 'b'.repeat(64), Apis.BATCH_CHECK_LAYER_AVAILABILITY],
    ['GET', '/v2/acme/app/blobs/sha256:' + 'b'.repeat(64), Apis.GET_DOWNLOAD_URL_FOR_LAYER],
    ['POST', '/v2/acme/app/blobs/uploads/', Apis.INITIATE_LAYER_UPLOAD],
    ['PATCH', '/v2/acme/app/blobs/uploads/0b5e6f1c-3a3e-4c1f-9d55-0c8f7d6a1b2c', Apis.UPLOAD_LAYER_PART],
    ['PUT', '/v2/acme/app/blobs/uploads/0b5e6f1c-3a3e-4c1f-9d55-0c8f7d6a1b2c?digest=sha256:' + 'b'.repeat(64), Apis.COMPLETE_LAYER_UPLOAD],
    ['GET', '/v2/acme/app/referrers/sha256:' + 'a'.repeat(64), Apis.BATCH_GET_IMAGE],
    ['GET', '/v2/', undefined],
  ])('names %s %s as the ECR API it stands for', (method, requestPath, api) => {
    expect(apiOf(method, requestPath)).toBe(api);
  });

  test('refuses a request over the bucket with a whole-second Retry-After, and admits again once it refilled', () => {
    let now = 0;
    const limiter = new RateLimiter({ [Apis.BATCH_GET_IMAGE]: { perSecond: 2, burst: 2 } }, () => now);
    expect(limiter.take(Apis.BATCH_GET_IMAGE, 'a')).toEqual({ admitted: true });
    expect(limiter.take(Apis.BATCH_GET_IMAGE, 'b')).toEqual({ admitted: true });
    expect(limiter.take(Apis.BATCH_GET_IMAGE, 'a')).toEqual({ admitted: false, retryAfterSeconds: 1 });
    now = 500;
    expect(limiter.take(Apis.BATCH_GET_IMAGE, 'a')).toEqual({ admitted: true });
    expect(limiter.take(Apis.GET_DOWNLOAD_URL_FOR_LAYER, 'a')).toEqual({ admitted: true });
    expect(limiter.admitted()).toEqual({ [Apis.BATCH_GET_IMAGE]: 3, [Apis.GET_DOWNLOAD_URL_FOR_LAYER]: 1 });
    expect(limiter.admittedFor('a')).toEqual({ [Apis.BATCH_GET_IMAGE]: 2, [Apis.GET_DOWNLOAD_URL_FOR_LAYER]: 1 });
    expect(limiter.throttled()).toEqual({ [Apis.BATCH_GET_IMAGE]: 1 });
    expect(limiter.throttledFor('a')).toBe(1);
  });
});
