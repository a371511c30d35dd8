/**
 * Registry credentials for one copy: the source's by its kind (a pull session in the tenant
 * account, the function's own ECR login, or a registry secret), the destination's from the
 * function's own ECR login. Every path keeps secrets in memory only.
 */
import { SourceKinds } from '../image-sync-contract';
import { parseEcrRegistry } from '../private/ecr-names';
import { AwsCredentials, CredentialSource, RegistryCredentials, StoppedError, assumePullSession, ecrCredentialSource } from '../sync';
import { HandlerDependencies, Invocation } from './dependencies';
import { assumeRoleFailure, awsErrorText } from './failures';
import { SyncRequest, sourceName } from './request';

const PULL_SESSION_SECONDS = 900;

/**
 * Credentials for the source, by kind; undefined for an anonymous registry.
 *
 * @param deadline the copy's deadline: until then a throttled AssumeRole or ECR login waits for the
 * quota (a StoppedError at the deadline), as the engine's registry requests do
 */
export async function sourceCredentials(
  request: SyncRequest, logicalId: string | undefined, { deps, redactor }: Invocation, deadline?: number,
): Promise<CredentialSource | undefined> {
  switch (request.kind) {
    case SourceKinds.TENANT_ECR: {
      let session: AwsCredentials;
      try {
        session = await assumePullSession({
          assumeRole: deps.assumeRole,
          roleArn: request.accessRoleArn!,
          externalId: request.externalId!,
          repositoryArn: request.sourceRepositoryArn!,
          sessionName: sessionName(request.releaseId, logicalId),
          sessionTags: sessionTags(request.releaseId),
          durationSeconds: PULL_SESSION_SECONDS,
          waitForQuotaUntil: deadline,
        });
      } catch (e) {
        if (e instanceof StoppedError) {
          throw e;
        }
        throw assumeRoleFailure(e, request);
      }
      return ecrLogin(request.source.registry, deps, deadline, session);
    }
    case SourceKinds.ECR:
      return ecrLogin(request.source.registry, deps, deadline);
    case SourceKinds.REGISTRY:
    case SourceKinds.HELM_REPOSITORY: {
      if (!request.credentialsSecretArn) {
        return undefined;
      }
      const secret = await readRegistrySecret(request, deps);
      redactor.addCredentials(secret);
      return async () => secret;
    }
    case SourceKinds.OCI_ARCHIVE:
      // Read from S3 with the function's own role, never from a registry.
      return undefined;
  }
}

/**
 * Credentials for the destination: the function's own ECR login.
 *
 * @param deadline until then, a throttled login waits for the quota (see `sourceCredentials`)
 */
export function destinationCredentials(request: SyncRequest, deps: HandlerDependencies, deadline?: number): CredentialSource {
  return ecrLogin(request.destination.registry, deps, deadline);
}

/** The region of an ECR registry host, or the function's own region for any other host. */
export function regionOf(registry: string, deps: HandlerDependencies): string {
  return parseEcrRegistry(registry)?.region ?? deps.region;
}

/** `sync-<release>-<logical id>`: names the session in the tenant's CloudTrail (at most 64 of [\w+=,.@-]). */
export function sessionName(releaseId: string | undefined, logicalId: string | undefined): string {
  const raw = ['sync', releaseId ?? 'unreleased', logicalId].filter(Boolean).join('-');
  return raw.replace(/[^\w+=,.@-]/g, '_').slice(0, 64);
}

/**
 * The release id as a session tag (CloudTrail shows it on every call of the session). Only when a
 * release id is given: tagging needs `sts:TagSession` in the access role's trust policy.
 */
export function sessionTags(releaseId: string | undefined): { key: string; value: string }[] | undefined {
  if (!releaseId) {
    return undefined;
  }
  return [{ key: 'ReleaseId', value: releaseId.replace(/[^\p{L}\p{Z}\p{N}_.:/=+@-]/gu, '_').slice(0, 256) }];
}

/** ECR login (GetAuthorizationToken in the registry's region) as the function, or as the given session. */
function ecrLogin(registry: string, deps: HandlerDependencies, deadline: number | undefined, session?: AwsCredentials): CredentialSource {
  const region = regionOf(registry, deps);
  return ecrCredentialSource(() => deps.ecrAuthorizationToken(region, session), { waitForQuotaUntil: deadline });
}

async function readRegistrySecret(request: SyncRequest, deps: HandlerDependencies): Promise<RegistryCredentials> {
  let text: string | undefined;
  try {
    text = await deps.readSecret(request.credentialsSecretArn!);
  } catch (e) {
    throw new Error(
      `Could not read the registry credentials secret ${request.credentialsSecretArn} for ${sourceName(request)}: ${awsErrorText(e)}. ` +
      'Check that the secret exists in this account and region and that its KMS key lets the sync function decrypt it.',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    parsed = undefined;
  }
  const value = parsed as { username?: unknown; password?: unknown } | undefined;
  if (!value || typeof value.username !== 'string' || typeof value.password !== 'string' || !value.username) {
    // Never echo the secret's content: only say what shape is expected.
    throw new Error(
      `The registry credentials secret ${request.credentialsSecretArn} must hold JSON {"username": "...", "password": "..."} ` +
      '(a string secret, not binary). Update the secret value and deploy again.',
    );
  }
  return { username: value.username, password: value.password };
}
