/**
 * Which credentials a command sends to a registry, and how it tells missing credentials from
 * wrong ones. Order: the explicit flag, its environment variable, the docker config
 * (`--authfile`), then for ECR hosts an ECR login through the default AWS credential chain.
 */
import { parseEcrRegistry } from '../private/ecr-names';
import { CopyError, CredentialSource, Redactor, RegistryCredentials, ecrCredentialSource } from '../sync';
import { UsageError } from './args';
import { DockerConfig, FoundCredentials } from './docker-config';
import { loadSideBundle } from './side-bundle';

/** One side of a copy: which flag and variable name it, for messages. */
export interface Side {
  /** `--src-creds` or `--dest-creds`. */
  readonly flag: string;
  /** `CDK_BYOC_SRC_CREDS` or `CDK_BYOC_DEST_CREDS`. */
  readonly variable: string;
  /** How to give credentials, after "docker login HOST or". @default - `<flag> USER:PASS` */
  readonly hint?: string;
}

export const SOURCE_SIDE: Side = { flag: '--src-creds', variable: 'CDK_BYOC_SRC_CREDS' };
export const DESTINATION_SIDE: Side = { flag: '--dest-creds', variable: 'CDK_BYOC_DEST_CREDS' };

/** Reads `USER:PASS` without ever echoing it. */
export function parseCreds(text: string, where: string): RegistryCredentials {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    // Never echo the value: it may be a password typed in the wrong place.
    throw new UsageError(`${where} must be USER:PASS`);
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** AWS SDK clients the command created; destroyed when it ends. */
export interface Closeable {
  destroy(): void;
}

/**
 * The credentials for one side of a copy. Remembers, per registry, where the answer came from,
 * so that a refusal can say "no credentials" or "these credentials were refused".
 */
export class SideCredentials {
  private readonly answers = new Map<string, string | undefined>();
  private readonly explicit?: { credentials: RegistryCredentials; from: string };
  private readonly ecr = new Map<string, CredentialSource>();

  /**
   * @param flagValue the flag's value, if given
   * @param docker the docker config, unless the command was told to ignore it
   * @param clients collects the AWS SDK clients made for ECR logins
   * @param perRegistry credentials named for single registries (a sync config), after the flag
   */
  constructor(
    private readonly side: Side,
    flagValue: string | undefined,
    env: NodeJS.ProcessEnv,
    private readonly docker: DockerConfig | undefined,
    private readonly clients: Closeable[],
    private readonly perRegistry: ReadonlyMap<string, FoundCredentials> = new Map(),
  ) {
    if (flagValue !== undefined) {
      this.explicit = { credentials: parseCreds(flagValue, side.flag), from: side.flag };
    } else if (env[side.variable]) {
      this.explicit = { credentials: parseCreds(env[side.variable]!, side.variable), from: side.variable };
    }
  }

  /** The explicit credentials, so the command's redactor knows them from the start. */
  public get known(): RegistryCredentials | undefined {
    return this.explicit?.credentials;
  }

  /** The engine's credential source for this side. */
  public source(redactor: Redactor): CredentialSource {
    return async (registry: string) => {
      const found = await this.find(registry);
      this.answers.set(registry, found?.from);
      if (found) {
        redactor.addCredentials(found.credentials);
      }
      return found?.credentials;
    };
  }

  /**
   * A refusal by a registry this side spoke to, in words that say what to do: no credentials
   * (log in, or pass them), or credentials that were refused (and where they came from).
   * Undefined when the error is not a refusal of this side's registry.
   */
  public explain(err: CopyError, registry: string): string | undefined {
    if (err.code !== 'UNAUTHORIZED' || err.registry !== registry) {
      return undefined;
    }
    const from = this.answers.get(registry);
    if (from === undefined) {
      return `no credentials for ${registry}; docker login ${registry} or ${this.side.hint ?? `${this.side.flag} USER:PASS`} (the registry answered: ${err.message})`;
    }
    return `${registry} refused the credentials from ${from}; check them, or log in again (the registry answered: ${err.message})`;
  }

  private async find(registry: string): Promise<{ credentials: RegistryCredentials; from: string } | undefined> {
    if (this.explicit) {
      return this.explicit;
    }
    const named = this.perRegistry.get(registry);
    if (named) {
      return named;
    }
    const fromDocker = await this.docker?.lookup(registry);
    if (fromDocker) {
      return fromDocker;
    }
    const ecr = parseEcrRegistry(registry);
    if (!ecr) {
      return undefined;
    }
    let source = this.ecr.get(ecr.region);
    if (!source) {
      source = ecrLogin(ecr.region, this.clients);
      this.ecr.set(ecr.region, source);
    }
    const credentials = await source(registry);
    return credentials && { credentials, from: 'an ECR login (GetAuthorizationToken through the default AWS credential chain)' };
  }
}

/** ECR login for a region. The AWS SDK loads here, the first time an ECR host needs it, not at start-up. */
function ecrLogin(region: string, clients: Closeable[]): CredentialSource {
  const { ECRClient, GetAuthorizationTokenCommand } = loadEcrSdk();
  const client = new ECRClient({ region });
  clients.push(client);
  return ecrCredentialSource(async () => (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]);
}

/** The SDK: the side bundle of ecr-sdk.ts in the package, the package itself run from source. */
function loadEcrSdk(): typeof import('./ecr-sdk') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadSideBundle('ecr-sdk', () => require('@aws-sdk/client-ecr'));
}
