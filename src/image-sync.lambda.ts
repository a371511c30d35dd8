import { BatchDeleteImageCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { STACK_ID_ENV } from './image-sync-contract';
import { HandlerDependencies, objectReader } from './image-sync-handler/dependencies';
import { handleEvent, IsCompleteResponse, OnEventResponse } from './image-sync-handler/handler';
import { ImageSyncEvent } from './image-sync-handler/request';
import { AwsCredentials } from './sync';

/** Attempts of one STS, ECR or S3 call: 10, not the SDK's 3, so a fleet-wide burst backs off (docs/scaling.md). */
export const AWS_MAX_ATTEMPTS = 10;

/** The handler's dependencies from SDK clients; tests and the demo override `dial`/`plainHttp` for loopback registries. */
export function createDependencies(overrides: Partial<HandlerDependencies> = {}): HandlerDependencies {
  const region = overrides.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const sts = new STSClient({ region, maxAttempts: AWS_MAX_ATTEMPTS });
  const secretsManager = new SecretsManagerClient({ region });
  const s3 = new S3Client({ region, maxAttempts: AWS_MAX_ATTEMPTS });
  const ecrClients = new Map<string, ECRClient>();
  // A pull session's client serves one copy: its token must not outlive the invocation.
  const client = (r: string, credentials?: AwsCredentials) => new ECRClient({ region: r, credentials, maxAttempts: AWS_MAX_ATTEMPTS });
  const shared = (r: string) => ecrClients.get(r) ?? ecrClients.set(r, client(r)).get(r)!;
  const ecr = (r: string, credentials?: AwsCredentials) => (credentials ? client(r, credentials) : shared(r));
  return {
    region,
    stackId: process.env[STACK_ID_ENV] || undefined,
    assumeRole: async (r) => {
      const tags = r.sessionTags?.map((t) => ({ Key: t.key, Value: t.value }));
      const input = { RoleArn: r.roleArn, RoleSessionName: r.sessionName, ExternalId: r.externalId, Policy: r.policy, Tags: tags };
      const c = (await sts.send(new AssumeRoleCommand({ ...input, DurationSeconds: r.durationSeconds }))).Credentials;
      return c && { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    },
    ecrAuthorizationToken: async (r, credentials) => (await ecr(r, credentials).send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0],
    // The tag and the digest in one image id: ECR removes the tag only while it still names the digest.
    deleteTag: async (t) => (await ecr(t.region).send(new BatchDeleteImageCommand({
      registryId: t.registryId, repositoryName: t.repositoryName, imageIds: [{ imageTag: t.tag, imageDigest: t.digest }],
    }))).failures ?? [],
    tagMutability: async (r) => {
      const describe = new DescribeRepositoriesCommand({ registryId: r.registryId, repositoryNames: [r.repositoryName] });
      const repository = (await ecr(r.region).send(describe)).repositories?.[0];
      return repository?.imageTagMutability === undefined ? undefined : {
        mutability: repository.imageTagMutability,
        exclusions: (repository.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter ?? '').filter((f) => f !== ''),
      };
    },
    readSecret: async (secretId) => (await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
    readObject: objectReader((Bucket, Key) => s3.send(new GetObjectCommand({ Bucket, Key }))),
    ...overrides,
  };
}

// Clients live as long as the execution environment: warm invocations reuse their connections.
let deps: HandlerDependencies | undefined;

/** The provider framework's `onEvent` and `isComplete` handler (one function serves both phases). */
export async function handler(event: ImageSyncEvent, context: { getRemainingTimeInMillis(): number }): Promise<OnEventResponse | IsCompleteResponse> {
  deps ??= createDependencies();
  return handleEvent(event, deps, () => context.getRemainingTimeInMillis());
}
