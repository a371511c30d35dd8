import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'worker_threads';

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
  /** Grant `pull` on every repository to anonymous clients (public images, as on Docker Hub); default false. */
  readonly anonymousPull?: boolean;
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

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const keyFile = path.join(options.dir, 'token-signing.key');
  const certFile = path.join(options.dir, 'token-signing.crt');
  makeSigningCertificate(keyFile, certFile);
  const certDer = new crypto.X509Certificate(fs.readFileSync(certFile)).raw;
  // Shared so that setTtlSeconds takes effect before the very next token, with no message race.
  const ttl = new Int32Array(new SharedArrayBuffer(4));
  ttl[0] = options.ttlSeconds ?? 300;
  const log = new MessageChannel();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      keyPem: fs.readFileSync(keyFile, 'utf8'),
      x5c: certDer.toString('base64'),
      service: options.service,
      issuer: options.issuer,
      users: options.users,
      anonymousPull: options.anonymousPull ?? false,
      leeway: REGISTRY_TOKEN_LEEWAY_SECONDS,
      ttl,
      log: log.port1,
    },
    transferList: [log.port1],
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port?: number; error?: string }) => (m.port ? resolve(m.port) : reject(new Error(m.error))));
    worker.once('error', reject);
  });
  worker.unref();
  // A crash of the server shows up in the test's output instead of as bare connection resets.
  worker.on('error', (e) => process.stderr.write(`token server failed: ${e.stack ?? e}\n`));
  const requests: TokenRequestRecord[] = [];
  const drain = () => {
    for (let m = receiveMessageOnPort(log.port2); m; m = receiveMessageOnPort(log.port2)) {
      requests.push(m.message as TokenRequestRecord);
    }
    return requests;
  };

  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: options.service,
    issuer: options.issuer,
    certFile,
    get requests() {
      return drain();
    },
    setTtlSeconds: (seconds: number) => {
      Atomics.store(ttl, 0, seconds);
    },
    stop: async () => {
      log.port2.close();
      await worker.terminate();
    },
  };
}

/**
 * The server itself runs in a worker thread: a test that blocks its own event loop (execFileSync
 * of skopeo or of a CLI) must still get tokens. It is plain JavaScript so it runs the same under
 * ts-jest, tsx and compiled code. It posts each request's record before answering, so the record
 * is there by the time the client sees the answer.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('worker_threads');
const crypto = require('crypto');
const http = require('http');
const { keyPem, x5c, service, issuer, users, anonymousPull, leeway, ttl, log } = workerData;
const key = crypto.createPrivateKey(keyPem);
const b64url = (d) => Buffer.from(d).toString('base64url');
const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [x5c] }));
const ACTIONS = ['pull', 'push', 'delete', '*'];
function sign(account, access) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: issuer, sub: account, aud: service,
    exp: now + Atomics.load(ttl, 0) - leeway, nbf: now - 1, iat: now,
    jti: crypto.randomBytes(12).toString('hex'), access,
  };
  const input = header + '.' + b64url(JSON.stringify(claims));
  // JWS wants the raw r||s form of an ECDSA signature, not DER.
  const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return input + '.' + b64url(sig);
}

function parseScope(scope) {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter((a) => a) };
}

function parseBasic(h) {
  if (!h || !/^basic /i.test(h)) return undefined;
  const text = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { username: text.slice(0, i), password: text.slice(i + 1) };
}

function reply(res, status, body, headers) {
  const text = JSON.stringify(body);
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }, headers || {}));
  res.end(text);
}

function handle(req, res, body) {
  const url = new URL(req.url || '/', 'http://token.invalid');
  // POST is the OAuth2 password grant that containerd tries first: credentials in the form.
  const params = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
  const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s);
  const record = (status, account, granted) => log.postMessage({
    method: req.method, service: params.get('service') || undefined, scopes, account, status, granted: granted || [],
  });
  if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
    record(404);
    return reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
  }
  if (params.get('service') !== service) {
    record(400);
    return reply(res, 400, { errors: [{ code: 'INVALID_REQUEST', message: 'unknown service ' + JSON.stringify(params.get('service')) }] });
  }
  if (req.method === 'POST' && params.get('grant_type') !== 'password') {
    record(400);
    return reply(res, 400, { error: 'unsupported_grant_type' });
  }
  const presented = req.method === 'POST'
    ? { username: params.get('username') || '', password: params.get('password') || '' }
    : parseBasic(req.headers.authorization);
  let user;
  if (presented) {
    user = users.find((u) => u.username === presented.username && u.password === presented.password);
    if (!user) {
      record(401, presented.username);
      return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'WWW-Authenticate': 'Basic realm="token"' });
    }
  }
  // Like Docker Hub: an anonymous client gets a token, with pull on public repositories only.
  const access = [];
  if (user || anonymousPull) {
    const allowed = user ? (user.allowedActions || ['pull', 'push', 'delete']) : ['pull'];
    for (const scope of scopes) {
      const p = parseScope(scope);
      if (!p) continue;
      const actions = p.actions.filter((a) => ACTIONS.includes(a) && (allowed.includes(a) || allowed.includes('*')));
      if (p.type === 'registry' && p.name === 'catalog' && user) access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      else if (p.type === 'repository' && actions.length > 0) access.push({ type: 'repository', name: p.name, actions });
    }
  }
  const token = sign(user ? user.username : '', access);
  record(200, user && user.username, access.map((a) => a.type + ':' + a.name + ':' + a.actions.join(',')));
  reply(res, 200, { token, access_token: token, expires_in: Atomics.load(ttl, 0), issued_at: new Date().toISOString() });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.keepAliveTimeout = 5000;
server.on('error', (e) => parentPort.postMessage({ error: String(e) }));
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
`;

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
