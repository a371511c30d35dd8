import { ECRClient } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { handleEvent, HandlerDependencies, ImageSyncEvent, IsCompleteResponse, OnEventResponse } from './image-sync-handler/handler';

/**
 * Builds the handler's AWS clients. The Lambda uses the defaults; tests and the demo pass
 * `endpoint`/`plainHttp` to reach loopback registries through the same code path.
 */
export function createDependencies(overrides: Partial<HandlerDependencies> = {}): HandlerDependencies {
  const region = overrides.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const secretsManager = new SecretsManagerClient({ region });
  const ecrClients = new Map<string, ECRClient>();
  return {
    region,
    sts: new STSClient({ region }),
    readSecret: async (secretId) => (await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
    ecr: (clientRegion, credentials) => {
      if (credentials) {
        // A pull session's client serves one copy: its token must not outlive the invocation.
        return new ECRClient({ region: clientRegion, credentials });
      }
      let client = ecrClients.get(clientRegion);
      if (!client) {
        client = new ECRClient({ region: clientRegion });
        ecrClients.set(clientRegion, client);
      }
      return client;
    },
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
