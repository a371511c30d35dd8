import { CredentialSource, RegistryAuth, RegistryCredentials, StartRegistryOptions, TestRegistry, startRegistry } from './registry';
import { TokenServer } from './token-server';

/**
 * Registries for the tests of a file or a `describe` block: started side by side before its tests
 * (`beforeAll`), stopped after them (`afterAll`). Call it where `beforeAll` may be called; each
 * returned registry stands for the one started, so tests and later hooks use it as it is:
 *
 *   const [plain, basic] = registriesForSuite({}, { auth: 'basic' });
 */
export function registriesForSuite<T extends StartRegistryOptions[]>(...options: T): { [K in keyof T]: TestRegistry } {
  const registries = options.map(o => new SuiteRegistry(o));
  beforeAll(async () => {
    await Promise.all(registries.map(r => r.start()));
  });
  afterAll(async () => {
    await Promise.all(registries.map(r => r.stop()));
  });
  return registries as { [K in keyof T]: TestRegistry };
}

/** A registry that `beforeAll` starts: before that it has no address, and reading it fails. */
class SuiteRegistry implements TestRegistry {
  private started?: TestRegistry;

  constructor(private readonly options: StartRegistryOptions) {}

  public async start(): Promise<void> {
    this.started = await startRegistry(this.options);
  }

  public get host(): string {
    return this.registry.host;
  }

  public get url(): string {
    return this.registry.url;
  }

  public get tls(): TestRegistry['tls'] {
    return this.registry.tls;
  }

  public get auth(): RegistryAuth {
    return this.registry.auth;
  }

  public get username(): string | undefined {
    return this.registry.username;
  }

  public get password(): string | undefined {
    return this.registry.password;
  }

  public get readOnlyUser(): RegistryCredentials | undefined {
    return this.registry.readOnlyUser;
  }

  public get tokenServer(): TokenServer | undefined {
    return this.registry.tokenServer;
  }

  public get storageDir(): string {
    return this.registry.storageDir;
  }

  public get pid(): number {
    return this.registry.pid;
  }

  public credentials(): CredentialSource {
    return this.registry.credentials();
  }

  public logs(): string {
    return this.registry.logs();
  }

  /** Stops the registry, if `beforeAll` got as far as starting it. */
  public async stop(): Promise<void> {
    await this.started?.stop();
  }

  private get registry(): TestRegistry {
    if (!this.started) {
      throw new Error('fails: a suite registry is read before its beforeAll started it; read it inside a test or a hook');
    }
    return this.started;
  }
}
