import { CopyError, StoppedError, describeNetworkError } from './errors';
import { HttpPool, RequestRegistry, discard, readBody } from './http';
import { Redactor } from './redact';
import { CONNECT_ATTEMPTS, Retry, TOKEN_ATTEMPTS, isConnectError, isRetryableNetworkError, isRetryableStatus, withRetries } from './retry';

/** Username and password (or token) for a registry. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/** Resolves credentials for a registry host; undefined = anonymous. Called lazily, results cached by the engine. */
export type CredentialSource = (registry: string) => Promise<RegistryCredentials | undefined>;

/** One `WWW-Authenticate` challenge: `Bearer realm="...",service="...",scope="..."`. */
export interface Challenge {
  readonly scheme: string;
  readonly params: { readonly [key: string]: string };
}

/** A credential source that always answers the same username and password. */
export function staticCredentials(username: string, password: string): CredentialSource {
  return async () => ({ username, password });
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated `key=value` or `key="quoted \"value\""` parameters. Scheme names are lower-cased.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: { [key: string]: string } }[] = [];
  let i = 0;
  const n = header.length;
  const skip = (chars: RegExp) => {
    while (i < n && chars.test(header[i])) {
      i++;
    }
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(header[i])) {
      i++;
    }
    return header.slice(start, i);
  };
  while (i < n) {
    skip(/[\s,]/);
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    const afterName = i;
    skip(/\s/);
    if (header[i] === '=' && challenges.length > 0) {
      // A parameter of the current challenge.
      i++;
      skip(/\s/);
      let value: string;
      if (header[i] === '"') {
        i++;
        value = '';
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) {
            i++;
          }
          value += header[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && !/\s/.test(header[i])) {
          i++;
        }
        value = header.slice(start, i);
      }
      challenges[challenges.length - 1].params[name.toLowerCase()] = value;
    } else {
      i = afterName;
      challenges.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return challenges;
}

interface CachedToken {
  readonly value: Promise<{ token: string; expiresAt: number }>;
}

/** The Basic `Authorization` value for a username and password. */
export function basicAuthorization(credentials: RegistryCredentials): string {
  return 'Basic ' + Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64');
}

/** What an {@link Authenticator} needs. */
export interface AuthenticatorOptions {
  /** The registry's name, as credentials and messages name it. */
  readonly registry: string;
  readonly source?: CredentialSource;
  readonly pool: HttpPool;
  readonly signal?: AbortSignal;
  /**
   * Until when (epoch ms) a throttled token request (HTTP 429) waits for the quota beyond its attempts.
   * @default - a 429 counts against the attempts
   */
  readonly waitForQuotaUntil?: number;
  /** The registry's own origin: token realms are checked against it (HTTPS, no local address). */
  readonly home: RequestRegistry;
  /** Learns every password, Basic encoding and token handled here. */
  readonly redactor: Redactor;
}

/**
 * Authentication for one registry: anonymous until the registry challenges, then Basic or the
 * Bearer token flow (tokens cached per scope set until shortly before they expire). A 401 on a
 * request that carried a token or password drops it and fetches a fresh one, once.
 *
 * Only challenges from the registry's own origin reach here (its connection fails a 401 from any
 * other origin). A token realm may be another host, as Docker Hub's is (auth.docker.io), but it
 * must be HTTPS unless its host is configured for plain HTTP, and for a registry not on loopback
 * it must not be a loopback or link-local address; it gets the registry's own credentials, from a
 * challenge of the registry's own origin, and nothing else.
 */
export class Authenticator {
  private scheme: 'unknown' | 'basic' | 'bearer' = 'unknown';
  private realm?: URL;
  private service?: string;
  private credentials?: Promise<RegistryCredentials | undefined>;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly registry: string;
  private readonly source?: CredentialSource;
  private readonly pool: HttpPool;
  private readonly signal?: AbortSignal;
  private readonly waitForQuotaUntil?: number;
  private readonly home: RequestRegistry;
  private readonly redactor: Redactor;

  constructor(options: AuthenticatorOptions) {
    this.registry = options.registry;
    this.source = options.source;
    this.pool = options.pool;
    this.signal = options.signal;
    this.waitForQuotaUntil = options.waitForQuotaUntil;
    this.home = options.home;
    this.redactor = options.redactor;
  }

  /** The Authorization header value for a request needing `scopes`, or undefined for none. */
  public async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.scheme === 'basic') {
      const credentials = await this.getCredentials();
      return credentials ? basicAuthorization(credentials) : undefined;
    }
    if (this.scheme === 'bearer') {
      return `Bearer ${await this.token(scopes)}`;
    }
    return undefined;
  }

  /**
   * Handles a 401. Returns true when sending the request again with a new {@link authorization}
   * may succeed; false when it cannot (no credentials, no challenge).
   */
  public async challenge(header: string | string[] | undefined, scopes: readonly string[], sent: string | undefined): Promise<boolean> {
    const challenges = parseChallenges(Array.isArray(header) ? header.join(', ') : header ?? '');
    const bearer = challenges.find(c => c.scheme === 'bearer');
    const basic = challenges.find(c => c.scheme === 'basic');
    if (bearer && bearer.params.realm) {
      let realm: URL;
      try {
        realm = new URL(bearer.params.realm);
      } catch {
        throw new CopyError('REGISTRY', `${this.registry} sent a token challenge with an invalid realm URL`, { registry: this.registry });
      }
      this.admitRealm(realm);
      this.scheme = 'bearer';
      this.realm = realm;
      this.service = bearer.params.service;
      if (sent?.startsWith('Bearer ')) {
        // The token expired or was revoked: fetch a new one, unless a parallel request already did.
        const key = scopeKey(scopes);
        const cached = this.tokens.get(key);
        const current = cached && await cached.value.catch(() => undefined);
        if (this.tokens.get(key) === cached && (!current || `Bearer ${current.token}` === sent)) {
          this.tokens.delete(key);
          // Credentials from a source (ECR tokens) may have expired with it.
          this.credentials = undefined;
        }
      }
      return true;
    }
    if (basic) {
      const first = this.scheme !== 'basic' || !sent;
      this.scheme = 'basic';
      if (!first) {
        // Rejected credentials: ask the source again (ECR tokens expire), the caller retries once.
        this.credentials = undefined;
      }
      return (await this.getCredentials()) !== undefined;
    }
    return false;
  }

  private getCredentials(): Promise<RegistryCredentials | undefined> {
    if (!this.credentials) {
      const source = this.source;
      this.credentials = (async () => {
        if (!source) {
          return undefined;
        }
        let credentials: RegistryCredentials | undefined;
        try {
          credentials = await source(this.registry);
        } catch (err) {
          this.credentials = undefined;
          if (err instanceof StoppedError) {
            // The source waited for its quota until the deadline: the copy stops, nothing failed.
            throw err;
          }
          // An outage of the credential service (a throttled ECR login) stays worth another attempt.
          const retryable = err instanceof CopyError && err.retryable;
          throw new CopyError(retryable ? err.code : 'UNAUTHORIZED', `could not get credentials for ${this.registry}: ${(err as Error)?.message ?? String(err)}`, {
            registry: this.registry, retryable, cause: err,
          });
        }
        if (credentials) {
          this.redactor.addCredentials(credentials);
        }
        return credentials;
      })();
    }
    return this.credentials;
  }

  private async token(scopes: readonly string[]): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached) {
      try {
        const { token, expiresAt } = await cached.value;
        if (Date.now() < expiresAt) {
          return token;
        }
      } catch {
        // fall through and fetch again
      }
      if (this.tokens.get(key) === cached) {
        this.tokens.delete(key);
      }
    }
    const entry: CachedToken = { value: this.fetchToken(scopes) };
    entry.value.catch(() => {
      if (this.tokens.get(key) === entry) {
        this.tokens.delete(key);
      }
    });
    this.tokens.set(key, entry);
    return (await entry.value).token;
  }

  private async fetchToken(scopes: readonly string[]): Promise<{ token: string; expiresAt: number }> {
    const url = new URL(this.realm!.toString());
    if (this.service) {
      url.searchParams.set('service', this.service);
    }
    for (const scope of [...scopes].sort()) {
      url.searchParams.append('scope', scope);
    }
    const credentials = await this.getCredentials();
    const headers: { [key: string]: string } = { accept: 'application/json' };
    if (credentials) {
      headers.authorization = basicAuthorization(credentials);
    }
    const tokenHost = url.host;
    let connectFailures = 0;
    const retries = { attempts: TOKEN_ATTEMPTS, signal: this.signal, waitForQuotaUntil: this.waitForQuotaUntil };
    return withRetries(retries, async ({ last, waitsForQuota }) => {
      const started = Date.now();
      let res;
      try {
        res = await this.pool.send({ method: 'GET', url, headers, signal: this.signal, registry: this.home });
      } catch (err) {
        if (err instanceof CopyError) {
          throw err;
        }
        const unreachable = isConnectError(err) && ++connectFailures >= CONNECT_ATTEMPTS;
        if (!last && !unreachable && isRetryableNetworkError(err)) {
          return new Retry(`the token service ${tokenHost} for ${this.registry} failed: ${describeNetworkError(err)}`);
        }
        throw new CopyError('NETWORK', `could not reach the token service ${tokenHost} for ${this.registry}: ${describeNetworkError(err)}`, {
          registry: this.registry, retryable: true, retried: true, cause: err,
        });
      }
      if (res.status === 200) {
        let body: any;
        try {
          body = JSON.parse((await readBody(res, 1024 * 1024)).toString('utf8'));
        } catch {
          throw new CopyError('REGISTRY', `the token service ${tokenHost} for ${this.registry} answered with invalid JSON`, { registry: this.registry });
        }
        const token = typeof body?.token === 'string' && body.token ? body.token : body?.access_token;
        if (typeof token !== 'string' || !token) {
          throw new CopyError('REGISTRY', `the token service ${tokenHost} for ${this.registry} answered without a token`, { registry: this.registry });
        }
        this.redactor.add(token);
        // Docker's token spec: 60 s when expires_in is missing. Renew 10% early to absorb latency.
        const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
        return { token, expiresAt: started + seconds * 900 };
      }
      discard(res);
      const throttled = res.status === 429;
      if (isRetryableStatus(res.status) && (!last || (throttled && waitsForQuota))) {
        return new Retry(`the token service ${tokenHost} for ${this.registry} answered HTTP ${res.status}`, res.headers['retry-after'], throttled);
      }
      if (res.status === 401 || res.status === 403) {
        throw new CopyError('UNAUTHORIZED',
          `the token service ${tokenHost} refused ${credentials ? 'the credentials' : 'anonymous access'} for ${scopes.join(' ')} on ${this.registry} (HTTP ${res.status}); check the credentials and their permissions`,
          { registry: this.registry, status: res.status });
      }
      throw new CopyError('REGISTRY', `the token service ${tokenHost} for ${this.registry} answered HTTP ${res.status}`, {
        registry: this.registry, status: res.status, retryable: isRetryableStatus(res.status), retried: isRetryableStatus(res.status),
      });
    });
  }

  /** The realm rule (see the class): a refused realm fails the request that was challenged. */
  private admitRealm(realm: URL): void {
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new CopyError('REFUSED', `${this.registry} named a token realm with the scheme ${JSON.stringify(realm.protocol)}; only HTTPS is used`, { registry: this.registry });
    }
    if (realm.username || realm.password) {
      throw new CopyError('REFUSED', `${this.registry} named a token realm that carries its own user information; refused`, { registry: this.registry });
    }
    try {
      this.pool.admit(realm, this.home);
    } catch (err) {
      throw err instanceof CopyError
        ? new CopyError(err.code, `${this.registry} named the token realm ${realm.origin}, which would receive its credentials: ${err.message}`, { registry: this.registry })
        : err;
    }
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
