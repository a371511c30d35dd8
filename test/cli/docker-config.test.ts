import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DockerConfig, defaultDockerConfigPath } from '../../src/cli/docker-config';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-docker-config-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a config file and returns its path. */
function config(content: unknown): string {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/**
 * Writes `docker-credential-<name>` into the temp dir: it logs each server it is asked for and
 * answers from `answers` (server → [username, secret]), else "credentials not found".
 */
function helper(name: string, answers: { [server: string]: [string, string] }, exitCode = 1): NodeJS.ProcessEnv {
  const cases = Object.entries(answers)
    .map(([server, [user, secret]]) => `  '${server}') printf '{"ServerURL":"%s","Username":"${user}","Secret":"${secret}"}' "$server" ;;`)
    .join('\n');
  const script = [
    '#!/bin/sh',
    '[ "$1" = get ] || exit 3',
    'server=$(cat)',
    `printf '%s\\n' "$server" >> "${path.join(dir, `${name}.log`)}"`,
    'case "$server" in',
    cases,
    `  *) echo "credentials not found in native keychain"; exit ${exitCode} ;;`,
    'esac',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, `docker-credential-${name}`), script, { mode: 0o755 });
  return { PATH: `${dir}${path.delimiter}${process.env.PATH}` };
}

function asked(name: string): string[] {
  const file = path.join(dir, `${name}.log`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
}

describe('DockerConfig', () => {
  test('reads base64 auth, username/password and identity tokens from auths, keyed by host or URL', async () => {
    const file = config({
      auths: {
        'registry.example.com': { auth: Buffer.from('robot:s3cret:with:colons').toString('base64') },
        'https://other.example.com/v1/': { username: 'user', password: 'pass' },
        'token.example.com': { identitytoken: 'refresh-token-1' },
      },
    });
    const docker = DockerConfig.load(file, true, {});
    expect(await docker.lookup('registry.example.com')).toEqual({
      credentials: { username: 'robot', password: 's3cret:with:colons' }, from: `${file} (auths)`,
    });
    expect((await docker.lookup('other.example.com'))?.credentials).toEqual({ username: 'user', password: 'pass' });
    expect((await docker.lookup('token.example.com'))?.credentials).toEqual({ username: '<token>', password: 'refresh-token-1' });
    expect(await docker.lookup('unknown.example.com')).toBeUndefined();
  });

  test('finds Docker Hub credentials under https://index.docker.io/v1/ for every name of Docker Hub', async () => {
    const docker = DockerConfig.load(config({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') } } }), true, {});
    for (const name of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect((await docker.lookup(name))?.credentials).toEqual({ username: 'hub', password: 'pw' });
    }
  });

  test('asks the host\'s credHelpers entry with the server on stdin before anything else', async () => {
    const env = helper('byoctest', { '127.0.0.1:5000': ['helper-user', 'helper-secret'] });
    const file = config({
      auths: { '127.0.0.1:5000': { auth: Buffer.from('file:pw').toString('base64') } },
      credHelpers: { '127.0.0.1:5000': 'byoctest' },
    });
    const docker = DockerConfig.load(file, true, env);
    expect(await docker.lookup('127.0.0.1:5000')).toEqual({
      credentials: { username: 'helper-user', password: 'helper-secret' }, from: `${file} (credHelpers: docker-credential-byoctest)`,
    });
    expect(asked('byoctest')).toEqual(['127.0.0.1:5000']);
  });

  test('asks credsStore for every host and falls back to auths when the store has nothing', async () => {
    const env = helper('store', { 'https://index.docker.io/v1/': ['hub-user', 'hub-secret'] });
    const docker = DockerConfig.load(config({
      credsStore: 'store',
      auths: { 'fallback.example.com': { username: 'file-user', password: 'file-pw' } },
    }), true, env);
    expect((await docker.lookup('docker.io'))?.credentials).toEqual({ username: 'hub-user', password: 'hub-secret' });
    expect((await docker.lookup('fallback.example.com'))?.credentials).toEqual({ username: 'file-user', password: 'file-pw' });
    expect(await docker.lookup('nothing.example.com')).toBeUndefined();
    expect(asked('store')).toEqual(['https://index.docker.io/v1/', 'fallback.example.com', 'nothing.example.com']);
  });

  test('asks a helper once per registry', async () => {
    const env = helper('once', { 'r.example.com': ['u', 'p'] });
    const docker = DockerConfig.load(config({ credHelpers: { 'r.example.com': 'once' } }), true, env);
    await Promise.all([docker.lookup('r.example.com'), docker.lookup('r.example.com')]);
    await docker.lookup('r.example.com');
    expect(asked('once')).toEqual(['r.example.com']);
  });

  test('fails naming a helper that is not on PATH', async () => {
    const file = config({ credHelpers: { 'r.example.com': 'absent-helper' } });
    const docker = DockerConfig.load(file, true, { PATH: dir });
    await expect(docker.lookup('r.example.com')).rejects.toThrow(`${file} (credHelpers: docker-credential-absent-helper) names docker-credential-absent-helper, which is not on PATH`);
  });

  test('fails without printing the helper\'s output when it fails for another reason than "not found"', async () => {
    fs.writeFileSync(path.join(dir, 'docker-credential-broken'), '#!/bin/sh\necho "partial secret-output"\nexit 7\n', { mode: 0o755 });
    const docker = DockerConfig.load(config({ credsStore: 'broken' }), true, { PATH: `${dir}${path.delimiter}${process.env.PATH}` });
    const error = await docker.lookup('r.example.com').catch((e: Error) => e);
    expect((error as Error).message).toContain('docker-credential-broken get failed for r.example.com (exit 7)');
    expect((error as Error).message).not.toContain('secret-output');
  });

  test('treats a missing default file as empty, and fails on a missing explicit file or invalid JSON', async () => {
    const missing = path.join(dir, 'nope', 'config.json');
    expect(await DockerConfig.load(missing, false, {}).lookup('r.example.com')).toBeUndefined();
    expect(() => DockerConfig.load(missing, true, {})).toThrow(`cannot read the docker config ${missing}: ENOENT`);
    const broken = config('{ not json');
    expect(() => DockerConfig.load(broken, true, {})).toThrow(`the docker config ${broken} is not valid JSON`);
  });

  test('fails on an auth that is not base64 of USER:PASS, without echoing it', async () => {
    const docker = DockerConfig.load(config({ auths: { 'r.example.com': { auth: Buffer.from('no-colon-secret').toString('base64') } } }), true, {});
    const error = await docker.lookup('r.example.com').catch((e: Error) => e);
    expect((error as Error).message).toMatch(/has an "auth" for r.example.com that is not base64 of USER:PASS/);
    expect((error as Error).message).not.toContain('no-colon-secret');
  });

  test.each([
    [{ DOCKER_CONFIG: '/etc/dockercfg', HOME: '/home/u' }, '/etc/dockercfg/config.json'],
    [{ HOME: '/home/u' }, '/home/u/.docker/config.json'],
  ])('finds the default file from %j', (env, expected) => {
    expect(defaultDockerConfigPath(env)).toBe(expected);
  });
});
