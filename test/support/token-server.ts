import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

/**
 * A small token server for distribution's `auth.token` mode, shaped like Docker Hub's and GHCR's:
 * `GET /token?service=S&scope=repository:NAME:pull,push` with optional Basic credentials answers
 * `{ token, access_token, expires_in, issued_at }`, the token being an ES256 JWT whose header
 * carries the signing certificate in `x5c` (the registry trusts it through `rootcertbundle`).
 */

/** An account the token server knows. */
export interface TokenUser {
  readonly username: string;
  readonly password: string;
  /** Repository actions this account may be granted; default pull, push and delete. */
  readonly allowedActions?: string[];
}

export interface TokenServerOptions {
  /** Directory for the key and certificate (the registry's storage dir). */
  readonly dir: string;
  /** `service` the registry announces and the token's `aud`. */
  readonly service: string;
  /** The token's `iss`; the registry's `auth.token.issuer`. */
  readonly issuer: string;
  readonly users: TokenUser[];
  /** How long a token is accepted by the registry; default 300 s. */
  readonly ttlSeconds?: number;
}

/** One request the token server answered (never the credentials themselves). */
export interface TokenRequestRecord {
  readonly method: string;
  readonly service?: string;
  readonly scopes: string[];
  /** The user name from Basic credentials; undefined for an anonymous request. */
  readonly account?: string;
  readonly status: number;
  /** What was granted, `type:name:actions` per entry. */
  readonly granted: string[];
}

export interface TokenServer {
  /** `http://127.0.0.1:PORT/token`, the registry's `auth.token.realm`. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file of the self-signed signing certificate (the registry's `rootcertbundle`). */
  readonly certFile: string;
  readonly requests: TokenRequestRecord[];
  /** Tokens issued from now on live this many seconds (for expiry tests). */
  setTtlSeconds(seconds: number): void;
  stop(): Promise<void>;
}

/**
 * Distribution accepts a token until `exp` plus 60 s of leeway for clock skew; the token server
 * subtracts that leeway from `exp` so that a token really stops working after `ttlSeconds`.
 */
export const REGISTRY_TOKEN_LEEWAY_SECONDS = 60;

const ACTIONS = ['pull', 'push', 'delete', '*'];

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const keyFile = path.join(options.dir, 'token-signing.key');
  const certFile = path.join(options.dir, 'token-signing.crt');
  makeSigningCertificate(keyFile, certFile);
  const privateKey = crypto.createPrivateKey(fs.readFileSync(keyFile));
  const certDer = new crypto.X509Certificate(fs.readFileSync(certFile)).raw;
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] }));
  let ttlSeconds = options.ttlSeconds ?? 300;
  const requests: TokenRequestRecord[] = [];

  const sign = (account: string, access: { type: string; name: string; actions: string[] }[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: options.issuer,
      sub: account,
      aud: options.service,
      exp: now + ttlSeconds - REGISTRY_TOKEN_LEEWAY_SECONDS,
      nbf: now - 1,
      iat: now,
      jti: crypto.randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${header}.${base64url(JSON.stringify(claims))}`;
    // JWS wants the raw r||s form of an ECDSA signature, not DER.
    const signature = crypto.sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${base64url(signature)}`;
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    let params = url.searchParams;
    if (req.method === 'POST') {
      // OAuth2 password grant, as containerd tries first: credentials in the form.
      params = new URLSearchParams(body);
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s.length > 0);
    const record = (status: number, account?: string, granted: string[] = []) => {
      requests.push({ method: req.method ?? '', service: params.get('service') ?? undefined, scopes, account, status, granted });
    };
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      record(404);
      return reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
    }
    if (params.get('service') !== options.service) {
      record(400);
      return reply(res, 400, { errors: [{ code: 'INVALID_REQUEST', message: `unknown service ${JSON.stringify(params.get('service'))}` }] });
    }
    let user: TokenUser | undefined;
    const presented = req.method === 'POST'
      ? (params.get('grant_type') === 'password' ? { username: params.get('username') ?? '', password: params.get('password') ?? '' } : undefined)
      : parseBasic(req.headers.authorization);
    if (req.method === 'POST' && params.get('grant_type') !== 'password') {
      record(400);
      return reply(res, 400, { error: 'unsupported_grant_type' });
    }
    if (presented) {
      user = options.users.find((u) => u.username === presented.username && u.password === presented.password);
      if (!user) {
        record(401, presented.username);
        res.setHeader('WWW-Authenticate', 'Basic realm="token"');
        return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
      }
    }
    // Like Docker Hub: an anonymous client gets a token, but with no access to private repositories.
    const access: { type: string; name: string; actions: string[] }[] = [];
    if (user) {
      const allowed = user.allowedActions ?? ['pull', 'push', 'delete'];
      for (const scope of scopes) {
        const parsed = parseScope(scope);
        if (!parsed) continue;
        const actions = parsed.actions.filter((a) => ACTIONS.includes(a) && (allowed.includes(a) || allowed.includes('*')));
        if (parsed.type === 'registry' && parsed.name === 'catalog') {
          access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        } else if (parsed.type === 'repository' && actions.length > 0) {
          access.push({ type: 'repository', name: parsed.name, actions });
        }
      }
    }
    const token = sign(user?.username ?? '', access);
    record(200, user?.username, access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`));
    return reply(res, 200, {
      token,
      access_token: token,
      expires_in: ttlSeconds,
      issued_at: new Date().toISOString(),
    });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;

  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: options.service,
    issuer: options.issuer,
    certFile,
    requests,
    setTtlSeconds: (seconds: number) => { ttlSeconds = seconds; },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Decodes a JWT's header and claims without verifying it (for tests of the token server). */
export function decodeJwt(token: string): { header: any; claims: any; signature: Buffer } {
  const [h, c, s] = token.split('.');
  if (h === undefined || c === undefined || s === undefined) {
    throw new Error('fails to decode: a JWT has three dot-separated parts');
  }
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    claims: JSON.parse(Buffer.from(c, 'base64url').toString('utf8')),
    signature: Buffer.from(s, 'base64url'),
  };
}

/** Verifies a JWT's ES256 signature against the certificate in its own `x5c` header. */
export function verifyJwtSignature(token: string): boolean {
  const parts = token.split('.');
  const { header, signature } = decodeJwt(token);
  const cert = new crypto.X509Certificate(Buffer.from(header.x5c[0], 'base64'));
  return crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
}

function makeSigningCertificate(keyFile: string, certFile: string): void {
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=test registry token issuer',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`fails to make the token signing certificate with openssl (install it: apt-get install -y openssl): ${(e as Error).message}`);
  }
}

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  // type:name:actions, where the name may itself hold a ':port' only for the registry type.
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a.length > 0),
  };
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}
