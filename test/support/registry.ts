import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { bedTls, registerTlsHost, unregisterTlsHost } from './tls';
import { startTokenServer, TokenServer } from './token-server';

/**
 * Real OCI registries for tests: CNCF distribution (`docker-registry serve`), one process per
 * instance on a free 127.0.0.1 port, with its own temporary storage, and one of three auth modes:
 * none, htpasswd Basic (like ECR's `AWS:<token>`), or Bearer tokens from a token server (like
 * Docker Hub and GHCR). Every instance is killed and its storage removed on `stop()`, `stopAll()`,
 * when the process exits or is interrupted, and (through a small watchdog shell) even when it is
 * killed with SIGKILL.
 *
 * The token server runs in a worker thread, so a test may run a child process synchronously
 * (`execFileSync` of the CLI or skopeo) against a token registry. Storage deletion is enabled
 * (`DELETE /v2/<repo>/manifests/<digest>`). Set DEBUG_REGISTRY=1 to see the registries' logs.
 */

export type RegistryAuth = 'none' | 'basic' | 'token';

/** Same shape as the engine's credentials, declared here so the bed does not depend on the engine. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/** Resolves credentials for a registry host; undefined means anonymous. */
export type CredentialSource = (registry: string) => Promise<RegistryCredentials | undefined>;

export interface StartRegistryOptions {
  readonly auth?: RegistryAuth;
  /** Token auth only: how many seconds a token is accepted (default 300). */
  readonly tokenTtlSeconds?: number;
  /** Token auth only: anonymous clients may pull every repository, as from public images on Docker Hub (default false). */
  readonly anonymousPull?: boolean;
  /** Serve HTTPS with the bed's per-run CA (see tls.ts) instead of plain HTTP (default false). */
  readonly tls?: boolean;
}

export interface TestRegistry {
  /** '127.0.0.1:PORT' */
  readonly host: string;
  /** 'http://127.0.0.1:PORT', or 'https://...' for a TLS registry. */
  readonly url: string;
  /** TLS registries: the CA certificate (PEM) clients trust, and a directory holding it (for `--src-cert-dir`). */
  readonly tls?: { readonly ca: string; readonly certDir: string };
  readonly auth: RegistryAuth;
  /** For basic and token auth: an account with pull, push and delete. */
  readonly username?: string;
  readonly password?: string;
  /** Token auth only: an account the token server grants `pull` and nothing else. */
  readonly readOnlyUser?: RegistryCredentials;
  /** Token auth only: the token server (its realm, and a log of the token requests it answered). */
  readonly tokenServer?: TokenServer;
  readonly storageDir: string;
  /** Process id of the docker-registry process. */
  readonly pid: number;
  /** Credentials for the engine: the account above for every host (also through a proxy); anonymous for 'none'. */
  credentials(): CredentialSource;
  /** The registry's own log output so far (errors only unless DEBUG_REGISTRY is set). */
  logs(): string;
  /** Kills the registry (and its token server) and removes its storage. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'run `bash scripts/ensure-tools.sh` (Debian: apt-get install -y docker-registry apache2-utils skopeo)';

const running = new Set<RunningRegistry>();
let exitHooksInstalled = false;

interface RunningRegistry {
  child: ChildProcess;
  watchdog: ChildProcess;
  storageDir: string;
  tokenServer?: TokenServer;
  stopped: boolean;
  /** The host a TLS registry registered (see tls.ts). */
  tlsHost?: string;
}

/** Throws a clear error when a command-line tool the bed needs is not on PATH. */
export function requireTool(tool: string): void {
  const found = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d.length > 0).some((dir) => {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) throw new Error(`fails to find \`${tool}\` on PATH: the registry tests need it; ${INSTALL_HINT}`);
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  requireTool('docker-registry');
  if (auth === 'basic') requireTool('htpasswd');
  if (auth === 'token' || options.tls) requireTool('openssl');
  installExitHooks();

  let lastError: Error | undefined;
  // A free port found by binding port 0 can be taken by someone else before the registry binds it.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(auth, options);
    } catch (e) {
      lastError = e as Error;
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  throw lastError;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => stopRunning(r)));
}

async function startOnce(auth: RegistryAuth, options: StartRegistryOptions): Promise<TestRegistry> {
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let username: string | undefined;
  let password: string | undefined;
  let readOnlyUser: RegistryCredentials | undefined;
  let tokenServer: TokenServer | undefined;
  let authConfig = '';

  try {
    if (auth === 'basic') {
      username = 'tester';
      password = `pw-${crypto.randomBytes(12).toString('hex')}`;
      // -C 4: bcrypt's lowest cost; the registry checks it on every request.
      const line = execFileSync('htpasswd', ['-Bbn', '-C', '4', username, password], { encoding: 'utf8' });
      const htpasswdFile = path.join(storageDir, 'htpasswd');
      fs.writeFileSync(htpasswdFile, line.trim() + '\n');
      authConfig = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${htpasswdFile}\n`;
    } else if (auth === 'token') {
      username = 'tester';
      password = `pw-${crypto.randomBytes(12).toString('hex')}`;
      readOnlyUser = { username: 'reader', password: `pw-${crypto.randomBytes(12).toString('hex')}` };
      tokenServer = await startTokenServer({
        dir: storageDir,
        service: `test-registry-${port}`,
        issuer: 'test-token-issuer',
        ttlSeconds: options.tokenTtlSeconds,
        anonymousPull: options.anonymousPull,
        users: [
          { username, password },
          { username: readOnlyUser.username, password: readOnlyUser.password, allowedActions: ['pull'] },
        ],
      });
      authConfig = [
        'auth:',
        '  token:',
        `    realm: ${tokenServer.realm}`,
        `    service: ${tokenServer.service}`,
        `    issuer: ${tokenServer.issuer}`,
        `    rootcertbundle: ${tokenServer.certFile}`,
        '',
      ].join('\n');
    }

    const tls = options.tls ? bedTls() : undefined;
    const debug = !!process.env.DEBUG_REGISTRY;
    const dataDir = path.join(storageDir, 'data');
    fs.mkdirSync(dataDir);
    const configFile = path.join(storageDir, 'config.yml');
    fs.writeFileSync(configFile, [
      'version: 0.1',
      'log:',
      `  level: ${debug ? 'debug' : 'error'}`,
      '  accesslog:',
      `    disabled: ${debug ? 'false' : 'true'}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${dataDir}`,
      '  cache:',
      '    blobdescriptor: inmemory',
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: ${host}`,
      `  secret: ${crypto.randomBytes(16).toString('hex')}`,
      '  headers:',
      '    X-Content-Type-Options: [nosniff]',
      ...(tls ? ['  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`] : []),
      authConfig,
    ].join('\n'));

    const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (debug) process.stderr.write(`[registry ${host}] ${text}`);
      output = (output + text).slice(-65536);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // The exit hooks cannot run when this process is killed with SIGKILL (a test runner's timeout):
    // a watchdog shell holds a pipe from us and, when it closes, kills the registry and removes its storage.
    const watchdog = spawn('sh', ['-c', 'read _; kill -KILL "$0" 2>/dev/null; rm -rf "$1"', String(child.pid), storageDir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.unref();
    (watchdog.stdin as unknown as net.Socket | null)?.unref?.();
    const entry: RunningRegistry = { child, watchdog, storageDir, tokenServer, stopped: false, tlsHost: tls ? host : undefined };
    if (tls) registerTlsHost(host);
    running.add(entry);
    // A forgotten registry must not keep the test process alive; the exit hook kills it.
    child.unref();
    (child.stdout as unknown as net.Socket | null)?.unref?.();
    (child.stderr as unknown as net.Socket | null)?.unref?.();

    try {
      await waitReady(host, child, () => output, tls?.ca);
    } catch (e) {
      await stopRunning(entry);
      throw e;
    }

    const user = username !== undefined && password !== undefined ? { username, password } : undefined;
    return {
      host,
      url: `${tls ? 'https' : 'http'}://${host}`,
      tls: tls ? { ca: tls.ca, certDir: tls.certDir } : undefined,
      auth,
      username,
      password,
      readOnlyUser,
      tokenServer,
      storageDir,
      pid: child.pid!,
      credentials: () => async () => user,
      logs: () => output,
      stop: () => stopRunning(entry),
    };
  } catch (e) {
    await tokenServer?.stop();
    fs.rmSync(storageDir, { recursive: true, force: true });
    throw e;
  }
}

async function waitReady(host: string, child: ChildProcess, output: () => string, ca?: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`fails to start docker-registry on ${host} (exit ${child.exitCode ?? child.signalCode}): ${output().trim()}`);
    }
    const status = await new Promise<number | undefined>((resolve) => {
      const options = { host: '127.0.0.1', port: Number(host.split(':')[1]), path: '/v2/', agent: false, timeout: 1000, ca };
      const req = (ca ? https : http).get(options, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(undefined));
      req.on('timeout', () => req.destroy());
    });
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`fails to see docker-registry answer on ${host} within 15 s: ${output().trim()}`);
}

async function stopRunning(entry: RunningRegistry): Promise<void> {
  if (entry.stopped) return;
  entry.stopped = true;
  const { child } = entry;
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
  await entry.tokenServer?.stop();
  if (entry.tlsHost) unregisterTlsHost(entry.tlsHost);
  fs.rmSync(entry.storageDir, { recursive: true, force: true });
  // Only now: should this process die before this line, the exit hooks or the watchdog still clean up.
  // Killed rather than released: it must not act on a process id that may have been reused.
  entry.watchdog.kill('SIGKILL');
  running.delete(entry);
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAllSync = () => {
    for (const entry of running) {
      try {
        entry.child.kill('SIGKILL');
        entry.watchdog.kill('SIGKILL');
      } catch {
        // already gone
      }
      fs.rmSync(entry.storageDir, { recursive: true, force: true });
    }
    running.clear();
  };
  process.on('exit', killAllSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      killAllSync();
      process.exit(code);
    });
  }
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
