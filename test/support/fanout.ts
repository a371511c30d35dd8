import * as crypto from 'crypto';
import {
  ASSUME_ROLE_QUOTA, BURST_SECONDS, ECR_PULL_QUOTAS, INSTALL_APIS, RELEASE, REQUESTS_PER_SYNC, TENANT_APIS, TenantApi,
} from './fanout-model';
import { BuiltImage, buildIndex, expectImage, pushImage } from './images';
import { ReferrersFront, startReferrersFront } from './referrers-front';
import { startRegistry, TestRegistry } from './registry';
import { Apis, RateLimit, RateLimiter, startThrottlingFront, ThrottlingFront } from './throttling-front';
import { IMAGE_SYNC_RESOURCE_TYPE, Props, SourceKinds } from '../../src/image-sync-contract';
import { HandlerDependencies } from '../../src/image-sync-handler/dependencies';
import { handleEvent, IsCompleteResponse, OnEventResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { AWS_MAX_ATTEMPTS } from '../../src/image-sync.lambda';
import { AssumeRoleRequest } from '../../src/sync';

/**
 * The fan-out simulation: one release in one tenant registry, N installs syncing it at once (or in
 * waves), each through the ImageSync handler's own entry point (`handleEvent`: onEvent, then
 * isComplete polls, as the provider framework calls them) with its own pull session, its own ECR
 * logins and its own destination repository. The tenant registry sits behind a throttling front
 * that enforces ECR's pull quotas, scaled down; STS AssumeRole and the tenant-side
 * GetAuthorizationToken are fakes that share the same token buckets and retry the way the AWS SDK
 * does with the Lambda's client settings (AWS_MAX_ATTEMPTS, exponential backoff with jitter) before they throw.
 */

const REGION = 'eu-west-1';
const TENANT_ACCOUNT = '111111111111';
const TENANT_HOST = `${TENANT_ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const TENANT_REPO = 'acme/app';
const INSTALL_HOST = `222222222222.dkr.ecr.${REGION}.amazonaws.com`;
const ACCESS_ROLE_ARN = `arn:aws:iam::${TENANT_ACCOUNT}:role/acme-ecr-access`;
const TENANT_REPO_ARN = `arn:aws:ecr:${REGION}:${TENANT_ACCOUNT}:repository/${TENANT_REPO}`;
const EXTERNAL_ID = 'fanout-simulation';
const TAG = '1.0.0';
/** The Lambda's remaining time as each invocation starts (the provider's function runs up to 15 minutes). */
const INVOCATION_MS = 14 * 60_000;

export interface FanoutOptions {
  readonly installs: number;
  /** Start the installs in this many waves of (nearly) equal size. @default 1 */
  readonly waves?: number;
  /** Seconds between the starts of two waves. @default 0 */
  readonly waveIntervalSeconds?: number;
  /** ECR's and STS's quotas are divided by this. @default DEFAULT_SCALE */
  readonly scale?: number;
  /**
   * Seconds of its rate each API's token bucket holds (its burst). @default BURST_SECONDS
   */
  readonly burstSeconds?: number;
  /** Milliseconds between two isComplete polls of one sync (the provider's queryInterval). @default 10,000 */
  readonly pollIntervalMs?: number;
  /** A sync still incomplete after this many seconds counts as failed; the run then stops. @default 600 */
  readonly syncTimeoutSeconds?: number;
  /** Handler log lines, for debugging. @default - none */
  readonly log?: (install: string, message: string, fields?: { [key: string]: unknown }) => void;
}

/** One install's sync. */
export interface SyncOutcome {
  readonly install: string;
  readonly ok: boolean;
  readonly seconds: number;
  /** isComplete invocations. */
  readonly polls: number;
  /** Tenant-side requests of this install that were throttled. */
  readonly throttled: number;
  /** Why it failed (the handler's failure reason), when it did. */
  readonly error?: string;
  /** Admitted requests of this install, by API: the tenant side and (prefixed `install:`) its own account. */
  readonly requests: { readonly [api: string]: number };
}

export interface FanoutResult {
  readonly installs: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50Seconds: number;
  readonly p99Seconds: number;
  /** Throttled answers (429s and SDK throttling errors) of the tenant account. */
  readonly throttled: number;
  /** Admitted requests by API: the tenant account's, then (prefixed `install:`) every install's own account. */
  readonly requests: { readonly [api: string]: number };
  /** Throttled answers by API. */
  readonly throttledByApi: { readonly [api: string]: number };
  readonly syncs: readonly SyncOutcome[];
  /** Destination checks that failed: a tag missing, on another digest, or on an image with a manifest or blob missing. */
  readonly checkFailures: readonly string[];
  /** The rate limits the front enforced (requests per second). */
  readonly limits: { readonly [api: string]: RateLimit };
  readonly scale: number;
  readonly release: { readonly digest: string; readonly manifests: number; readonly blobs: number; readonly bytes: number };
}

/** ECR's quotas over this factor: what two cores running the registry, the front and N handlers can reach. */
export const DEFAULT_SCALE = 200;

/** The scaled limits, by API: every bucket holds `burstSeconds` of its rate (at least one request). */
export function scaledLimits(scale: number, burstSeconds: number = BURST_SECONDS): { [api: string]: RateLimit } {
  const out: { [api: string]: RateLimit } = {};
  for (const [api, quota] of Object.entries(ECR_PULL_QUOTAS)) {
    out[api] = { perSecond: quota / scale, burst: Math.max(1, (quota / scale) * burstSeconds) };
  }
  out[Apis.ASSUME_ROLE] = { perSecond: ASSUME_ROLE_QUOTA / scale, burst: Math.max(1, (ASSUME_ROLE_QUOTA / scale) * burstSeconds) };
  return out;
}

/** Builds the release the simulation syncs (see `RELEASE`). */
export function buildRelease(): BuiltImage {
  return buildIndex({ platforms: [...RELEASE.platforms], layers: [...RELEASE.layerBytes] });
}

export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const installs = options.installs;
  const waves = Math.max(1, Math.min(options.waves ?? 1, installs));
  const waveIntervalMs = (options.waveIntervalSeconds ?? 0) * 1000;
  const scale = options.scale ?? DEFAULT_SCALE;
  const pollIntervalMs = options.pollIntervalMs ?? 10_000;
  const syncTimeoutMs = (options.syncTimeoutSeconds ?? 600) * 1000;
  const limits = scaledLimits(scale, options.burstSeconds);

  const [tenant, destination] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'basic' })]);
  const fronts: ThrottlingFront[] = [];
  let referrersApi: ReferrersFront | undefined;
  try {
    const release = buildRelease();
    await pushImage(tenant, TENANT_REPO, TAG, release);

    // The tenant account's quotas: one set of buckets for every install.
    const tenantLimiter = new RateLimiter(limits);
    // Each install's own account: counted, not limited (its quotas are its own, one sync each).
    const installLimiter = new RateLimiter({});
    const tokens = new Map<string, string>();
    // ECR has the OCI referrers API: the tenant registry gets one, behind the throttling front.
    referrersApi = await startReferrersFront(tenant);
    const tenantFront = await startThrottlingFront({ target: referrersApi, limiter: tenantLimiter, caller: (t) => tokens.get(`tenant:${t}`) });
    fronts.push(tenantFront);
    const installFront = await startThrottlingFront({ target: destination, limiter: installLimiter, caller: (t) => tokens.get(`install:${t}`) });
    fronts.push(installFront);

    const names = Array.from({ length: installs }, (_, i) => `install-${String(i + 1).padStart(4, '0')}`);
    const started = performance.now();
    const runOne = (name: string, wave: number): Promise<SyncOutcome> => new Promise((resolve) => {
      setTimeout(() => {
        const dial = { [TENANT_HOST]: tenantFront.host, [INSTALL_HOST]: installFront.host };
        // syncOne never rejects: a failure is an outcome.
        void syncOne({ name, release, pollIntervalMs, syncTimeoutMs, tenantLimiter, installLimiter, tokens, dial, log: options.log }).then(resolve);
      }, wave * waveIntervalMs);
    });
    const waveSize = Math.ceil(installs / waves);
    const syncs = await Promise.all(names.map((name, i) => runOne(name, Math.floor(i / waveSize))));
    const seconds = (performance.now() - started) / 1000;

    const checkFailures = await checkDestinations(destination, names, release);
    const times = syncs.filter((s) => s.ok).map((s) => s.seconds).sort((a, b) => a - b);
    const throttledByApi = tenantLimiter.throttled();
    const requests: { [api: string]: number } = {};
    const tenantAdmitted = tenantLimiter.admitted();
    for (const api of TENANT_APIS) requests[api] = tenantAdmitted[api] ?? 0;
    const installAdmitted = installLimiter.admitted();
    for (const api of INSTALL_APIS) requests[`install:${api}`] = installAdmitted[api] ?? 0;
    const blobs = [...release.children.flatMap((c) => [...c.blobs.values()])];
    return {
      installs,
      succeeded: syncs.filter((s) => s.ok).length,
      failed: syncs.filter((s) => !s.ok).length,
      seconds: round(seconds),
      p50Seconds: round(percentile(times, 0.5)),
      p99Seconds: round(percentile(times, 0.99)),
      throttled: Object.values(throttledByApi).reduce((a, b) => a + b, 0),
      requests,
      throttledByApi,
      syncs,
      checkFailures,
      limits,
      scale,
      release: {
        digest: release.digest,
        manifests: 1 + release.children.length,
        blobs: blobs.length,
        bytes: blobs.reduce((n, b) => n + b.length, 0),
      },
    };
  } finally {
    await Promise.all(fronts.map((f) => f.stop()));
    await referrersApi?.stop();
    await Promise.all([tenant.stop(), destination.stop()]);
  }
}

interface SyncContext {
  readonly name: string;
  readonly release: BuiltImage;
  readonly pollIntervalMs: number;
  readonly syncTimeoutMs: number;
  readonly tenantLimiter: RateLimiter;
  readonly installLimiter: RateLimiter;
  /** `tenant:<token>` / `install:<token>` → the install it was issued to. */
  readonly tokens: Map<string, string>;
  readonly dial: { readonly [registry: string]: string };
  readonly log?: FanoutOptions['log'];
}

/** One install: its own handler dependencies (its own Lambda), one Create through onEvent and isComplete polls. */
async function syncOne(ctx: SyncContext): Promise<SyncOutcome> {
  const { name } = ctx;
  const t0 = performance.now();
  const deps = installDependencies(ctx);
  const event: ImageSyncEvent = {
    RequestType: 'Create',
    RequestId: crypto.randomUUID(),
    StackId: `arn:aws:cloudformation:${REGION}:222222222222:stack/${name}/sim`,
    LogicalResourceId: 'AppImageSync',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResponseURL: 'https://example.invalid/never-called',
    ResourceProperties: {
      [Props.SOURCE_KIND]: SourceKinds.TENANT_ECR,
      [Props.SOURCE_IMAGE]: `${TENANT_HOST}/${TENANT_REPO}:${TAG}`,
      [Props.SOURCE_REPOSITORY_ARN]: TENANT_REPO_ARN,
      [Props.ACCESS_ROLE_ARN]: ACCESS_ROLE_ARN,
      [Props.EXTERNAL_ID]: EXTERNAL_ID,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${name}/app`,
      [Props.DESTINATION_REPOSITORY_NAME]: `${name}/app`,
      [Props.DESTINATION_TAG]: TAG,
      [Props.RELEASE_ID]: 'r-1',
      [Props.REMOVE_ON_DELETE]: 'false',
      [Props.TOTAL_TIMEOUT_SECONDS]: '3600',
      // ImageSync's default: the release's signatures and SBOMs travel with it.
      [Props.COPY_REFERRERS]: 'true',
    },
  };
  let polls = 0;
  const outcome = (ok: boolean, error?: string): SyncOutcome => ({
    install: name,
    ok,
    seconds: (performance.now() - t0) / 1000,
    polls,
    throttled: ctx.tenantLimiter.throttledFor(name),
    error,
    requests: {
      ...ctx.tenantLimiter.admittedFor(name),
      ...Object.fromEntries(Object.entries(ctx.installLimiter.admittedFor(name)).map(([api, n]) => [`install:${api}`, n])),
    },
  });
  try {
    const remaining = () => INVOCATION_MS;
    const onEvent = await handleEvent(event, deps, remaining) as OnEventResponse;
    for (;;) {
      polls++;
      const result = await handleEvent({ ...event, ...onEvent }, deps, remaining) as IsCompleteResponse;
      if (result.IsComplete) return outcome(true);
      if (performance.now() - t0 + ctx.pollIntervalMs > ctx.syncTimeoutMs) {
        return outcome(false, `not complete after ${polls} polls in ${Math.round(ctx.syncTimeoutMs / 1000)} s`);
      }
      await sleep(ctx.pollIntervalMs);
    }
  } catch (e) {
    return outcome(false, (e as Error).message);
  }
}

/** The handler's dependencies for one install: fakes of STS and of both accounts' ECR logins. */
function installDependencies(ctx: SyncContext): HandlerDependencies {
  const { name, tenantLimiter, installLimiter, tokens } = ctx;
  let sessions = 0;
  const sessionKeys = new Set<string>();
  return {
    region: REGION,
    assumeRole: (request: AssumeRoleRequest) => sdkCall(tenantLimiter, Apis.ASSUME_ROLE, name, 'Throttling', () => {
      // What the tenant's trust policy and IAM would check: the role, the external id, a session
      // policy that reads the one repository.
      const scoped = JSON.parse(request.policy).Statement?.some((s: { Resource?: string }) => s.Resource === TENANT_REPO_ARN);
      if (request.roleArn !== ACCESS_ROLE_ARN || request.externalId !== EXTERNAL_ID || !scoped) {
        throw Object.assign(new Error(`${name} is not authorized to perform: sts:AssumeRole`), { name: 'AccessDenied' });
      }
      const accessKeyId = `ASIA${name.replace(/\W/g, '').toUpperCase()}${++sessions}`;
      sessionKeys.add(accessKeyId);
      return { accessKeyId, secretAccessKey: 'simulated', sessionToken: 'simulated', expiration: new Date(Date.now() + 900_000) };
    }),
    ecrAuthorizationToken: async (_region, credentials) => {
      if (credentials) {
        // As the pull session: the tenant account's GetAuthorizationToken quota.
        if (!sessionKeys.has(credentials.accessKeyId)) throw Object.assign(new Error('unknown session'), { name: 'UnrecognizedClientException' });
        return sdkCall(tenantLimiter, Apis.GET_AUTHORIZATION_TOKEN, name, 'ThrottlingException', () => issue('tenant'));
      }
      // As the function itself, in the install's own account.
      installLimiter.take(Apis.GET_AUTHORIZATION_TOKEN, name);
      return issue('install');
    },
    tagMutability: async () => ({ mutability: 'IMMUTABLE', exclusions: [] }),
    deleteTag: async () => [],
    readSecret: async () => undefined,
    readObject: async ({ bucket, key }) => {
      throw new Error(`s3://${bucket}/${key}: the simulation syncs from the tenant registry, never from an archive`);
    },
    dial: (registry) => ctx.dial[registry] ?? registry,
    log: ctx.log ? (message, fields) => ctx.log!(name, message, fields) : () => undefined,
  };

  function issue(side: 'tenant' | 'install') {
    const token = crypto.randomBytes(12).toString('hex');
    tokens.set(`${side}:${token}`, name);
    return { authorizationToken: Buffer.from(`AWS:${token}`).toString('base64'), expiresAt: new Date(Date.now() + 12 * 3600_000) };
  }
}

/**
 * An AWS SDK call against a rate limit, as the Lambda's clients make it: the SDK's standard retry
 * mode retries a throttling error up to AWS_MAX_ATTEMPTS attempts in all, waiting a random time up
 * to 2^attempt × 500 ms (at most 20 s), then throws the service's throttling error.
 */
async function sdkCall<T>(limiter: RateLimiter, api: TenantApi, caller: string, errorName: string, call: () => T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (limiter.take(api, caller).admitted) return call();
    if (attempt >= AWS_MAX_ATTEMPTS) {
      throw Object.assign(new Error(`Rate exceeded (${api}, after ${attempt} attempts)`), { name: errorName });
    }
    await sleep(Math.random() * Math.min(20_000, 2 ** attempt * 500));
  }
}

/** Every install's tag is the release's digest, and every manifest and blob under it is there, byte for byte. */
async function checkDestinations(destination: TestRegistry, names: string[], release: BuiltImage): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++];
      try {
        await expectImage(destination, `${name}/app`, TAG, release);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return failures;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Where the measured requests disagree with the model. In the tenant account, a sync that
 * completed in its first isComplete poll made exactly `REQUESTS_PER_SYNC` of every API: a
 * throttled request is answered 429 and not admitted, its retry is the one counted. In the
 * install's account it did so only when none of its requests was throttled: a blob download
 * that gives up after its retries is tried again whole, and each try checks the destination and
 * opens an upload session again. A sync the handler resumed in a later poll assumes the role,
 * logs in and reads the manifests again: at least as many.
 */
export function modelMismatches(result: FanoutResult): string[] {
  const out: string[] = [];
  for (const sync of result.syncs.filter((s) => s.ok)) {
    for (const [api, expected] of Object.entries(REQUESTS_PER_SYNC)) {
      const got = sync.requests[api] ?? 0;
      const exact = sync.polls === 1 && (!api.startsWith('install:') || sync.throttled === 0);
      if (exact ? got !== expected : got < expected) {
        out.push(`${sync.install} made ${got} ${api} requests in ${sync.polls} poll(s), ${sync.throttled} throttled; the model says ${expected} per sync`);
      }
    }
  }
  return out;
}
