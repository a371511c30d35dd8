import { BatchDeleteImageCommand, DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { EcrTag, HandlerDependencies } from './image-sync-handler/dependencies';
import { handleEvent, IsCompleteResponse, OnEventResponse } from './image-sync-handler/handler';
import { ImageSyncEvent } from './image-sync-handler/request';
import { AwsCredentials } from './sync';

/**
 * Attempts in all of one STS or ECR call. The SDK's standard mode makes 3, which a fleet-wide
 * release outlasts: a GetAuthorizationToken still throttled after them fails the sync, and a
 * throttled AssumeRole waits a whole poll. With 10, a throttled call backs off (random waits of up
 * to 2^n × 500 ms, at most 20 s each) for about a minute before it gives up (docs/scaling.md).
 */
export const AWS_MAX_ATTEMPTS = 10;

/**
 * The handler's dependencies from AWS SDK clients. The Lambda uses the defaults; tests and the demo
 * pass `dial`/`plainHttp` to reach loopback registries through the same code path.
 */
export function createDependencies(overrides: Partial<HandlerDependencies> = {}): HandlerDependencies {
  const region = overrides.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const sts = new STSClient({ region, maxAttempts: AWS_MAX_ATTEMPTS });
  const secretsManager = new SecretsManagerClient({ region });
  const ecrClients = new Map<string, ECRClient>();
  // A pull session's client serves one copy: its token must not outlive the invocation.
  const ecr = (r: string, credentials?: AwsCredentials): ECRClient => (credentials
    ? new ECRClient({ region: r, credentials, maxAttempts: AWS_MAX_ATTEMPTS })
    : ecrClients.get(r) ?? ecrClients.set(r, new ECRClient({ region: r, maxAttempts: AWS_MAX_ATTEMPTS })).get(r)!);
  const image = (t: EcrTag) => ({ registryId: t.registryId, repositoryName: t.repositoryName, imageIds: [{ imageTag: t.tag }] });
  return {
    region,
    assumeRole: async (r) => {
      const c = (await sts.send(new AssumeRoleCommand({
        RoleArn: r.roleArn,
        RoleSessionName: r.sessionName,
        ExternalId: r.externalId,
        DurationSeconds: r.durationSeconds,
        Policy: r.policy,
        Tags: r.sessionTags?.map((t) => ({ Key: t.key, Value: t.value })),
      }))).Credentials;
      return c && { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    },
    ecrAuthorizationToken: async (r, credentials) => (await ecr(r, credentials).send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0],
    describeTag: async (t) => (await ecr(t.region).send(new DescribeImagesCommand(image(t)))).imageDetails?.[0]?.imageDigest,
    deleteTag: async (t) => (await ecr(t.region).send(new BatchDeleteImageCommand(image(t)))).failures ?? [],
    readSecret: async (secretId) => (await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
    ...overrides,
  };
}

// Clients live as long as the execution environment: warm invocations reuse their connections.
let deps: HandlerDependencies | undefined;

/** The provider framework's `onEvent` and `isComplete` handler (one function serves both phases). */
export async function handler(
  event: ImageSyncEvent,
  context: { getRemainingTimeInMillis(): number },
): Promise<OnEventResponse | IsCompleteResponse> {
  deps ??= createDependencies();
  return handleEvent(event, deps, () => context.getRemainingTimeInMillis());
}
