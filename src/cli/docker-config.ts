/**
 * Docker's client configuration (`config.json`) as a credential source: `auths`, `credHelpers`
 * and `credsStore`, the latter two through the `docker-credential-<name> get` protocol, so that
 * `docker login` and credential helpers such as `docker-credential-ecr-login` work unchanged.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RegistryCredentials } from '../sync';

/** Where Docker Hub's credentials are stored, whatever name the reference used. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** Helpers ask keychains or cloud APIs; a hung one must not hang the copy. */
const HELPER_TIMEOUT_MS = 60_000;

interface AuthEntry {
  readonly auth?: string;
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
}

interface ConfigFile {
  readonly auths?: { readonly [key: string]: AuthEntry };
  readonly credHelpers?: { readonly [host: string]: string };
  readonly credsStore?: string;
}

/** Credentials found for a registry, and where from (for messages; never the secret itself). */
export interface FoundCredentials {
  readonly credentials: RegistryCredentials;
  readonly from: string;
}

/** The default config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG ? path.join(env.DOCKER_CONFIG, 'config.json') : path.join(env.HOME || os.homedir(), '.docker', 'config.json');
}

/** A docker config file, read once. */
export class DockerConfig {
  /**
   * Reads a config file. A missing default file is an empty config; a missing file given
   * explicitly, or one that is not JSON, is an error.
   *
   * @throws Error naming the file and what is wrong
   */
  public static load(file: string, explicit: boolean, env: NodeJS.ProcessEnv): DockerConfig {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        return new DockerConfig(file, {}, env);
      }
      throw new Error(`cannot read the docker config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`the docker config ${file} is not valid JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new Error(`the docker config ${file} is not a JSON object`);
    }
    return new DockerConfig(file, json as ConfigFile, env);
  }

  private readonly cache = new Map<string, Promise<FoundCredentials | undefined>>();

  private constructor(public readonly file: string, private readonly config: ConfigFile, private readonly env: NodeJS.ProcessEnv) {}

  /**
   * Credentials for a registry host, as docker finds them: the host's `credHelpers` entry, else
   * `credsStore` (falling back to `auths` when the store has none), else `auths`.
   *
   * @throws Error when a helper fails for another reason than "not found"
   */
  public lookup(registry: string): Promise<FoundCredentials | undefined> {
    let found = this.cache.get(registry);
    if (!found) {
      found = this.find(registry);
      this.cache.set(registry, found);
    }
    return found;
  }

  private async find(registry: string): Promise<FoundCredentials | undefined> {
    const hub = DOCKER_HUB_NAMES.has(registry);
    const server = hub ? DOCKER_HUB_KEY : registry;
    const helper = this.entry(this.config.credHelpers, registry, hub);
    if (typeof helper === 'string' && helper) {
      return runHelper(helper, server, this.env, `${this.file} (credHelpers: docker-credential-${helper})`);
    }
    if (typeof this.config.credsStore === 'string' && this.config.credsStore) {
      const stored = await runHelper(this.config.credsStore, server, this.env, `${this.file} (credsStore: docker-credential-${this.config.credsStore})`);
      if (stored) {
        return stored;
      }
    }
    const entry = this.entry(this.config.auths, registry, hub);
    return entry && typeof entry === 'object' ? this.fromAuth(entry, registry) : undefined;
  }

  /** An entry keyed by the host, or by a URL of it (`https://host/v1/`), as `docker login` writes them. */
  private entry<T>(map: { readonly [key: string]: T } | undefined, registry: string, hub: boolean): T | undefined {
    if (!map || typeof map !== 'object') {
      return undefined;
    }
    const names = hub ? [DOCKER_HUB_KEY, ...DOCKER_HUB_NAMES] : [registry];
    for (const name of names) {
      if (Object.prototype.hasOwnProperty.call(map, name)) {
        return map[name];
      }
    }
    for (const [key, value] of Object.entries(map)) {
      if (names.includes(hostOfKey(key))) {
        return value;
      }
    }
    return undefined;
  }

  private fromAuth(entry: AuthEntry, registry: string): FoundCredentials | undefined {
    const from = `${this.file} (auths)`;
    if (typeof entry.identitytoken === 'string' && entry.identitytoken) {
      // An identity token stands in for the password; the user name is what the registry gave, or docker's placeholder.
      return { credentials: { username: entry.username || '<token>', password: entry.identitytoken }, from };
    }
    if (typeof entry.auth === 'string' && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) {
        throw new Error(`the docker config ${this.file} has an "auth" for ${registry} that is not base64 of USER:PASS`);
      }
      return { credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }, from };
    }
    if (typeof entry.username === 'string' && entry.username && typeof entry.password === 'string') {
      return { credentials: { username: entry.username, password: entry.password }, from };
    }
    return undefined;
  }
}

/** `https://host:port/v1/` or `host:port/path` → `host:port`. */
function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').split('/')[0].toLowerCase();
}

/**
 * `docker-credential-<name> get`: the server on stdin, `{"Username","Secret"}` on stdout; a
 * helper that has nothing says "credentials not found" and exits non-zero.
 */
function runHelper(name: string, server: string, env: NodeJS.ProcessEnv, from: string): Promise<FoundCredentials | undefined> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      reject(new Error(`${from}: ${JSON.stringify(name)} is not a credential helper name`));
      return;
    }
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: HELPER_TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new Error(e.code === 'ENOENT'
        ? `${from} names ${program}, which is not on PATH; install it or remove it from the config`
        : `${program} could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8').trim();
      if (code !== 0) {
        if (/credentials not found/i.test(stdout) || /credentials not found/i.test(Buffer.concat(err).toString('utf8'))) {
          resolve(undefined);
          return;
        }
        // A helper's output may hold a secret: say only how it ended.
        reject(new Error(`${program} get failed for ${server} (${signal ? `killed by ${signal}` : `exit ${code}`}); run \`echo ${server} | ${program} get\` to see why`));
        return;
      }
      let json: { Username?: unknown; Secret?: unknown };
      try {
        json = JSON.parse(stdout);
      } catch {
        reject(new Error(`${program} get answered for ${server} with something that is not JSON`));
        return;
      }
      if (typeof json.Secret !== 'string' || !json.Secret) {
        resolve(undefined);
        return;
      }
      const username = typeof json.Username === 'string' && json.Username ? json.Username : '<token>';
      resolve({ credentials: { username, password: json.Secret }, from });
    });
    // As docker sends it: the bare server, no newline.
    child.stdin.end(server);
  });
}
