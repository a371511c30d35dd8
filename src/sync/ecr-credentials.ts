/**
 * Credentials for ECR: registry logins from `ecr:GetAuthorizationToken`, and the pull session
 * (`sts:AssumeRole` with a session policy) that reads one tenant repository. The AWS calls are
 * narrow functions the caller builds from its SDK clients.
 */
import { CredentialSource, RegistryCredentials } from './auth';
import { CopyError, StoppedError } from './errors';
import { isThrottlingError, withRetries } from './retry';
import { parseEcrRepositoryArn } from '../private/ecr-names';
import { ECR_AUTH_ACTIONS, ECR_PULL_ACTIONS, ECR_PULL_THROUGH_ACTIONS } from '../private/perms';

/** AWS credentials, shaped like the SDK's `AwsCredentialIdentity` so they can be passed to any client. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** What `ecr:GetAuthorizationToken` answers for the caller: base64 of `AWS:<token>`, and its expiry. */
export interface EcrAuthorizationData {
  readonly authorizationToken?: string;
  readonly expiresAt?: Date;
}

/** Calls `ecr:GetAuthorizationToken` (in the registry's region, as some AWS identity). */
export type GetEcrAuthorizationToken = () => Promise<EcrAuthorizationData | undefined>;

/** An `sts:AssumeRole` request. */
export interface AssumeRoleRequest {
  readonly roleArn: string;
  readonly externalId: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
  /** The session policy (JSON). */
  readonly policy: string;
  readonly sessionTags?: { key: string; value: string }[];
}

/** Calls `sts:AssumeRole`: the session's credentials, as far as STS returned them. */
export type AssumeRole = (request: AssumeRoleRequest) => Promise<Partial<AwsCredentials> | undefined>;

/** How long an AWS call that is still throttled after the SDK's own retries waits for the quota. */
export interface QuotaWaitOptions {
  /**
   * Epoch ms (the copy's deadline): until then a throttled call is made again, with backoff, and
   * a wait that reaches it throws a StoppedError('deadline').
   * @default - a throttled call fails as the SDK gives up (an outage: worth another attempt later)
   */
  readonly waitForQuotaUntil?: number;
}

/**
 * Makes an AWS call; within `options.waitForQuotaUntil`, a call the service still throttles after
 * the SDK's retries is made again until then (see {@link withRetries}).
 */
export function untilQuota<T>(call: () => Promise<T>, options: QuotaWaitOptions): Promise<T> {
  return withRetries({ attempts: 1, waitForQuotaUntil: options.waitForQuotaUntil, throttled: isThrottlingError }, () => call());
}

/** Renew the cached ECR token this long before it expires (they last 12 hours). */
const RENEW_BEFORE_MS = 5 * 60 * 1000;

/**
 * Credentials for ECR registries from `GetAuthorizationToken` (Basic `AWS:<token>`), cached until
 * five minutes before the token expires. The token is valid for every registry the caller's IAM
 * identity may read, so one call serves cross-account pulls too; the call's region must be the
 * registry's region.
 */
export function ecrCredentialSource(getToken: GetEcrAuthorizationToken, options: QuotaWaitOptions = {}): CredentialSource {
  let cached: { credentials: Promise<RegistryCredentials>; expiresAt: number } | undefined;
  return async (registry: string) => {
    if (cached && Date.now() < cached.expiresAt) {
      return cached.credentials;
    }
    const entry = { credentials: fetchEcrCredentials(registry), expiresAt: Number.POSITIVE_INFINITY };
    cached = entry;
    try {
      const credentials = await entry.credentials;
      return credentials;
    } catch (err) {
      if (cached === entry) {
        cached = undefined;
      }
      throw err;
    }

    async function fetchEcrCredentials(host: string): Promise<RegistryCredentials> {
      let data: EcrAuthorizationData | undefined;
      try {
        data = await untilQuota(getToken, options);
      } catch (err) {
        if (err instanceof StoppedError) {
          throw err;
        }
        if (isOutage(err)) {
          // Throttled (a fleet-wide release bursts this quota first) or unavailable: try again later.
          throw new CopyError('REGISTRY', `ecr:GetAuthorizationToken for ${host} is throttled or unavailable: ${sdkErrorText(err)}`, {
            registry: host, retryable: true, cause: err,
          });
        }
        throw new CopyError('UNAUTHORIZED', `ecr:GetAuthorizationToken failed for ${host}: ${sdkErrorText(err)}`, { registry: host, cause: err });
      }
      if (!data?.authorizationToken) {
        throw new CopyError('UNAUTHORIZED', `ecr:GetAuthorizationToken returned no token for ${host}`, { registry: host });
      }
      const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) {
        throw new CopyError('UNAUTHORIZED', `ecr:GetAuthorizationToken returned a token in an unexpected format for ${host}`, { registry: host });
      }
      const expiresAt = data.expiresAt ? data.expiresAt.getTime() - RENEW_BEFORE_MS : Date.now() + 60 * 60 * 1000;
      entry.expiresAt = expiresAt;
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  };
}

/** Options for {@link assumePullSession}. */
export interface PullSessionOptions {
  readonly assumeRole: AssumeRole;
  /** The tenant's pull role. */
  readonly roleArn: string;
  /** The external id the role's trust policy requires. */
  readonly externalId: string;
  /** The one repository the session may pull from. */
  readonly repositoryArn: string;
  readonly sessionName: string;
  /** Session tags (for attribute-based conditions and CloudTrail). */
  readonly sessionTags?: { key: string; value: string }[];
  /** Session length, default 900 (the minimum: a copy needs minutes, not hours). */
  readonly durationSeconds?: number;
  /** See {@link QuotaWaitOptions}: a throttled AssumeRole waits for the quota until then. @default - it fails */
  readonly waitForQuotaUntil?: number;
}

/**
 * The session policy for a pull session: pull actions on one repository ARN, plus
 * GetAuthorizationToken (IAM requires resource '*' for it). A session policy can only narrow what
 * the role allows, so even a broad role yields a session that reads one repository. The repository
 * may be a pull-through cache's: a first pull then imports the upstream image and creates the
 * repository, which the session allows on that one repository when the role does.
 */
export function pullSessionPolicy(repositoryArn: string): string {
  if (!parseEcrRepositoryArn(repositoryArn)) {
    throw new CopyError('INVALID', `repositoryArn ${JSON.stringify(repositoryArn)} is not an ECR repository ARN (arn:aws:ecr:<region>:<account>:repository/<name>)`);
  }
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'PullOneRepository', Effect: 'Allow', Action: [...ECR_PULL_ACTIONS, ...ECR_PULL_THROUGH_ACTIONS], Resource: repositoryArn },
      { Sid: 'EcrLogin', Effect: 'Allow', Action: ECR_AUTH_ACTIONS, Resource: '*' },
    ],
  });
}

/** AssumeRole with a session policy allowing only pull actions on repositoryArn (+ GetAuthorizationToken on '*'). */
export async function assumePullSession(options: PullSessionOptions): Promise<AwsCredentials> {
  const durationSeconds = options.durationSeconds ?? 900;
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200) {
    throw new CopyError('INVALID', `durationSeconds ${JSON.stringify(durationSeconds)} is not allowed: an integer from 900 to 43200`);
  }
  const policy = pullSessionPolicy(options.repositoryArn);
  let c: Partial<AwsCredentials> | undefined;
  try {
    c = await untilQuota(() => options.assumeRole({
      roleArn: options.roleArn,
      externalId: options.externalId,
      sessionName: options.sessionName,
      durationSeconds,
      policy,
      sessionTags: options.sessionTags,
    }), options);
  } catch (err) {
    if (err instanceof StoppedError) {
      throw err;
    }
    const e = err as { name?: string };
    throw new CopyError(e?.name === 'AccessDenied' || e?.name === 'AccessDeniedException' ? 'DENIED' : 'UNAUTHORIZED',
      `sts:AssumeRole of ${options.roleArn} failed: ${sdkErrorText(err)}; check the role's trust policy (principal, external id, sts:TagSession)`,
      { cause: err });
  }
  if (!c?.accessKeyId || !c.secretAccessKey) {
    throw new CopyError('UNAUTHORIZED', `sts:AssumeRole of ${options.roleArn} returned no credentials`);
  }
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
}

/** `Name: message` of an AWS SDK error. */
function sdkErrorText(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

const OUTAGE = /Throttl|TooManyRequests|ServiceUnavailable|InternalServer|InternalFailure|RequestTimeout|TimeoutError|ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN/i;

/** An AWS SDK error that says the service is throttling or unavailable, not that the caller is refused. */
function isOutage(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $retryable?: unknown } | undefined;
  return !!e && (e.$retryable !== undefined || OUTAGE.test(`${e.name ?? ''} ${e.code ?? ''}`));
}
