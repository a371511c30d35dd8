import { Api, Apis } from './throttling-front';

/**
 * The fan-out capacity model: the typical release, the quotas it meets, and the requests one sync
 * makes of each API. The simulation checks its measured counts against `REQUESTS_PER_SYNC`, the
 * test checks that docs/scaling.md shows exactly the tables rendered here, so the model, the
 * simulation and the docs cannot drift apart.
 */

/**
 * The typical release: a 2-platform OCI index, three gzip'd layers and a config per platform, no
 * SBOM or attestation. It syncs as ImageSync does by default, referrers on, from a tenant
 * registry with the OCI referrers API (as ECR has).
 */
export const RELEASE = {
  platforms: ['linux/amd64', 'linux/arm64'],
  /** Each layer's content before gzip (random bytes: gzip keeps the size). */
  layerBytes: [128 * 1024, 32 * 1024, 4 * 1024],
} as const;

/** Manifests of the release: the index and one per platform. */
export const RELEASE_MANIFESTS = 1 + RELEASE.platforms.length;
/** Blobs of the release: per platform, its layers and its config. */
export const RELEASE_BLOBS = RELEASE.platforms.length * (RELEASE.layerBytes.length + 1);

/**
 * ECR's default pull quotas per account and Region (requests per second; adjustable in Service
 * Quotas), from the Amazon ECR User Guide's "Amazon ECR service quotas".
 */
export const ECR_PULL_QUOTAS: { readonly [api: string]: number } = {
  [Apis.GET_AUTHORIZATION_TOKEN]: 500,
  [Apis.BATCH_GET_IMAGE]: 2000,
  [Apis.GET_DOWNLOAD_URL_FOR_LAYER]: 3000,
  [Apis.BATCH_CHECK_LAYER_AVAILABILITY]: 1000,
};

/**
 * How many seconds of its rate an API's token bucket holds. ECR documents its throttling as a
 * token bucket and gives one shape: GetAuthorizationToken at 20 per second with a bucket of 200
 * ("Troubleshooting Amazon ECR error messages", HTTP 429). The model takes that ratio for every
 * ECR API and for STS, whose bucket AWS does not describe; `--burst-seconds 1` shows what a
 * tighter bucket does.
 */
export const BURST_SECONDS = 10;

/**
 * STS AssumeRole, requests per second. STS has no rate quota in Service Quotas; AWS's knowledge
 * center article on IAM and STS throttling ("Rate exceeded") says the limits apply per account and
 * cannot be raised, and 600 per second per account and Region is the figure AWS has given for
 * STS. The model counts every install's AssumeRole against the tenant account (the conservative
 * reading: which account a cross-account AssumeRole is metered against is not documented).
 */
export const ASSUME_ROLE_QUOTA = 600;

/**
 * ECR's default push quotas in each install's account (requests per second), from the same page.
 * Each install syncs into its own account, so these are per install, not shared.
 */
export const ECR_PUSH_QUOTAS: { readonly [api: string]: number } = {
  [Apis.PUT_IMAGE]: 10,
  [Apis.INITIATE_LAYER_UPLOAD]: 100,
  [Apis.UPLOAD_LAYER_PART]: 500,
  [Apis.COMPLETE_LAYER_UPLOAD]: 100,
  [Apis.BATCH_CHECK_LAYER_AVAILABILITY]: 1000,
  [Apis.BATCH_GET_IMAGE]: 2000,
  [Apis.GET_AUTHORIZATION_TOKEN]: 500,
};


/** The APIs one sync calls in the tenant account, in the order it calls them. */
export const TENANT_APIS: readonly Api[] = [
  Apis.ASSUME_ROLE, Apis.GET_AUTHORIZATION_TOKEN, Apis.BATCH_GET_IMAGE, Apis.BATCH_CHECK_LAYER_AVAILABILITY, Apis.GET_DOWNLOAD_URL_FOR_LAYER,
];
export type TenantApi = Api;

/** The APIs one sync calls in its install's own account. */
export const INSTALL_APIS: readonly Api[] = [
  Apis.GET_AUTHORIZATION_TOKEN, Apis.BATCH_GET_IMAGE, Apis.BATCH_CHECK_LAYER_AVAILABILITY,
  Apis.INITIATE_LAYER_UPLOAD, Apis.UPLOAD_LAYER_PART, Apis.COMPLETE_LAYER_UPLOAD, Apis.PUT_IMAGE,
];

/**
 * Referrer lookups one sync makes of the tenant, counted as BatchGetImage: for each of
 * the release's manifests, one referrers API request and a GET of each of cosign's three tags
 * (`.sig`, `.att`, `.sbom`), whether or not anything is attached.
 */
export const REFERRER_LOOKUPS_PER_MANIFEST = 4;

/**
 * Requests one sync of the release makes, by API, when no request of it is throttled and it
 * completes in its first isComplete poll: what `npm run simulate -- --installs 1` measures.
 * Install-side APIs carry the `install:` prefix.
 */
export const REQUESTS_PER_SYNC: { readonly [api: string]: number } = {
  [Apis.ASSUME_ROLE]: 1,
  [Apis.GET_AUTHORIZATION_TOKEN]: 1,
  [Apis.BATCH_GET_IMAGE]: RELEASE_MANIFESTS * (1 + REFERRER_LOOKUPS_PER_MANIFEST),
  [Apis.BATCH_CHECK_LAYER_AVAILABILITY]: 0,
  [Apis.GET_DOWNLOAD_URL_FOR_LAYER]: 8,
  [`install:${Apis.GET_AUTHORIZATION_TOKEN}`]: 1,
  [`install:${Apis.BATCH_GET_IMAGE}`]: 3,
  [`install:${Apis.BATCH_CHECK_LAYER_AVAILABILITY}`]: 8,
  [`install:${Apis.INITIATE_LAYER_UPLOAD}`]: 8,
  [`install:${Apis.UPLOAD_LAYER_PART}`]: 0,
  [`install:${Apis.COMPLETE_LAYER_UPLOAD}`]: 8,
  [`install:${Apis.PUT_IMAGE}`]: 3,
};

/** One case of what a re-sync costs the source, by referrers setting and what is attached. */
export interface ResyncCase {
  readonly name: string;
  readonly referrers: boolean;
  /** A cosign signature (tag) and an SBOM (referrer) attached to the index. */
  readonly attached: boolean;
  /** A verification policy (the signature's key). */
  readonly verify: boolean;
  /** Requests the source answers, with the OCI referrers API (ECR) and without (distribution 2.8: the tag schema). */
  readonly withApi: number;
  readonly withoutApi: number;
}

/**
 * Source requests of a re-sync of the unchanged release (the destination holds it under the
 * tag): what `measureResyncRequests` counts, and the test checks. A first sync adds one blob
 * download per blob.
 */
export const RESYNC_CASES: readonly ResyncCase[] = [
  { name: 'referrers off', referrers: false, attached: false, verify: false, withApi: 3, withoutApi: 3 },
  { name: 'referrers on, nothing attached', referrers: true, attached: false, verify: false, withApi: 15, withoutApi: 18 },
  { name: 'referrers on, a signature and an SBOM attached', referrers: true, attached: true, verify: false, withApi: 16, withoutApi: 20 },
  { name: 'the same, with a verification policy', referrers: true, attached: true, verify: true, withApi: 19, withoutApi: 24 },
];

/** The re-sync table of docs/scaling.md. */
export function renderResyncTable(): string {
  const rows = RESYNC_CASES.map((c) => `| ${c.name} | ${c.withApi} | ${c.withoutApi} |`);
  return ['| re-sync of the release | source requests, referrers API (ECR) | without the API (tag schema) |', '|---|---:|---:|', ...rows].join('\n');
}

/** Installs per second one tenant account and Region can start before `api`'s quota bites. */
export function installsPerSecond(api: Api): number {
  const quota = api === Apis.ASSUME_ROLE ? ASSUME_ROLE_QUOTA : ECR_PULL_QUOTAS[api];
  const perSync = REQUESTS_PER_SYNC[api];
  return perSync > 0 ? quota / perSync : Number.POSITIVE_INFINITY;
}

/** The tenant-side API whose quota bites first, and its installs per second. */
export function firstLimit(): { api: Api; installsPerSecond: number } {
  return TENANT_APIS.map((api) => ({ api, installsPerSecond: installsPerSecond(api) }))
    .reduce((a, b) => (b.installsPerSecond < a.installsPerSecond ? b : a));
}

/** The tenant account's table of docs/scaling.md: requests per sync, quota, installs per second. */
export function renderTenantTable(): string {
  const first = firstLimit().api;
  const rows = TENANT_APIS.map((api) => {
    const quota = api === Apis.ASSUME_ROLE ? `${ASSUME_ROLE_QUOTA}/s (STS, assumed)` : `${ECR_PULL_QUOTAS[api].toLocaleString('en-US')}/s`;
    const ips = installsPerSecond(api);
    const capacity = Number.isFinite(ips) ? `${formatRate(ips)}${api === first ? ' ← first limit' : ''}` : 'not called';
    return `| ${api} | ${REQUESTS_PER_SYNC[api]} | ${quota} | ${capacity} |`;
  });
  return ['| API (tenant account and Region) | requests per sync | default quota | installs per second |', '|---|---:|---:|---|', ...rows].join('\n');
}

/** The install account's table: requests per sync against the install's own quotas. */
export function renderInstallTable(): string {
  const rows = INSTALL_APIS.map((api) => {
    const perSync = REQUESTS_PER_SYNC[`install:${api}`];
    return `| ${api} | ${perSync} | ${ECR_PUSH_QUOTAS[api].toLocaleString('en-US')}/s |`;
  });
  return ['| API (install account) | requests per sync | default quota |', '|---|---:|---:|', ...rows].join('\n');
}

function formatRate(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}
