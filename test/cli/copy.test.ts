import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyCommand } from '../../src/cli/copy';
import { CommandRun, runCommand } from '../support/cli';
import { startFaultProxy } from '../support/fault-proxy';
import { startFakeRegistry } from '../support/hostile';
import { MEDIA_TYPES, buildArtifact, buildImage, buildIndex, expectImage, pushImage, putManifest, readManifest } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const [plain, basic] = registriesForSuite({}, { auth: 'basic' });

const ROBOT = { username: 'robot', password: 'cli-s3cret-passw0rd' };
const ROBOT_BASIC = Buffer.from(`${ROBOT.username}:${ROBOT.password}`).toString('base64');

// No docker config unless a test writes one: the machine's own ~/.docker/config.json stays out of the tests.
const NO_DOCKER_CONFIG = path.join(os.tmpdir(), 'byoc-cli-no-docker-config');

function run(argv: string[], env: NodeJS.ProcessEnv = {}, tty = false): Promise<CommandRun> {
  return runCommand(copyCommand, argv, { DOCKER_CONFIG: NO_DOCKER_CONFIG, ...env }, { ttyStderr: tty });
}

let counter = 0;
async function pushed(img = buildImage({ layers: [20_000] })) {
  const repo = `cli/app-${++counter}`;
  await pushImage(plain, repo, 'v1', img);
  return { img, repo };
}

describe('copy command', () => {
  test('copies with --dest-creds, prints the result as JSON on stdout, and exits 0', async () => {
    const { img, repo } = await pushed();
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`, '--dest-creds', `${basic.username}:${basic.password}`, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ complete: true, digest: img.digest, mediaType: img.mediaType, blobsCopied: img.blobs.size, tag: 'v1' });
    expect(result.bytesCopied).toBeGreaterThan(20_000);
    expect(r.stderr).toMatch(new RegExp(`^copied ${img.digest} \\(linux/amd64\\): 2 blobs, .* in [0-9.]+s`, 'm'));
    await expectImage(basic, repo, 'v1', img);
    expect(r.stdout + r.stderr).not.toContain(basic.password!);
  });

  test('takes credentials from CDK_BYOC_DEST_CREDS and prints the pinned reference', async () => {
    const { img, repo } = await pushed();
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}:release`], { CDK_BYOC_DEST_CREDS: `${basic.username}:${basic.password}` });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${basic.host}/${repo}@${img.digest}`);
    expect(r.stderr).toMatch(/copied sha256:[a-f0-9]{64} \(linux\/amd64\): 2 blobs/);
    expect((await readManifest(basic, repo, 'release'))?.digest).toBe(img.digest);
  });

  test('says so when the destination already holds the image', async () => {
    const { repo } = await pushed();
    await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-copy`]);
    const r = await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-copy`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/already there/);
  });

  test('copies only the platforms given with --platform', async () => {
    const { img, repo } = await pushed(buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] }));
    const r = await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-arm`, '--platform', 'linux/arm64', '--json', '--concurrency=2']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.sourceDigest).toBe(img.digest);
    expect(result.platforms).toEqual(['linux/arm64']);
  });

  test('says the source index\'s referrers were not carried when --platform copies a subset', async () => {
    const { img, repo } = await pushed(buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [1024] }));
    const sbom = buildArtifact({ kind: 'sbom', subject: img });
    await pushImage(plain, repo, undefined, sbom);
    await putManifest(plain, repo, `sha256-${img.digest.slice('sha256:'.length)}`, MEDIA_TYPES.ociIndex, Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.manifest.length, artifactType: sbom.artifactType }],
    })));
    const r = await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-arm`, '--platform', 'linux/arm64', '--referrers', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.referrers.indexLeftBehind).toEqual({ digest: img.digest, referrers: 1 });
    expect(r.stderr).toContain(`referrers: 1 of the source index ${img.digest} not carried: they sign the whole index, and ${result.digest} holds a platform subset`);
  });

  test('fails with exit 1 and the registry\'s answer on wrong credentials, never printing them', async () => {
    const { repo } = await pushed();
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`, '--dest-creds=tester:wrong-pass-123']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed \[UNAUTHORIZED\]/);
    expect(r.stderr).toContain(`${basic.host} refused the credentials from --dest-creds`);
    expect(r.stderr + r.stdout).not.toContain('wrong-pass-123');
  });

  test('fails naming missing credentials and how to give them when the destination needs some', async () => {
    const { repo } = await pushed();
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`copy: failed [UNAUTHORIZED]: no credentials for ${basic.host}; docker login ${basic.host} or --dest-creds USER:PASS`);
  });

  test('fails with --json as {"error":{"code","message"}} on stdout and exit 1', async () => {
    const { repo } = await pushed();
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['error']);
    expect(out.error.code).toBe('UNAUTHORIZED');
    expect(out.error.message).toContain(`no credentials for ${basic.host}`);
  });

  test('fails with --json on a usage error as {"error":{"code":"USAGE"}} on stdout and exit 2', async () => {
    const r = await run(['127.0.0.1:1/a', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'USAGE', message: 'copy: SRC and DST are required' } });
  });

  test('reports a moved tag, and with --no-clobber refuses to move it with exit 1', async () => {
    const first = await pushed();
    const second = await pushed(buildImage({ layers: [30_000] }));
    const target = `${plain.host}/${first.repo}-live:current`;
    expect((await run([`${plain.host}/${first.repo}:v1`, target])).code).toBe(0);
    const refused = await run([`${plain.host}/${second.repo}:v1`, target, '--no-clobber', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'CONFLICT' });
    expect(refused.stderr).toContain(`holds ${first.img.digest}, not ${second.img.digest}`);
    expect((await readManifest(plain, `${first.repo}-live`, 'current'))?.digest).toBe(first.img.digest);
    const moved = await run([`${plain.host}/${second.repo}:v1`, target]);
    expect(moved.code).toBe(0);
    expect(moved.stderr).toContain(`moved ${target} from ${first.img.digest} to ${second.img.digest}`);
    expect((await readManifest(plain, `${first.repo}-live`, 'current'))?.digest).toBe(second.img.digest);
  });

  test('takes docker:// references as skopeo writes them', async () => {
    const { img, repo } = await pushed();
    const r = await run([`docker://${plain.host}/${repo}:v1`, `docker://${plain.host}/${repo}-docker`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${plain.host}/${repo}-docker@${img.digest}`);
  });

  test('fails with exit 1 when the destination does not answer with the copied digest afterwards', async () => {
    const { repo } = await pushed();
    const proxy = await startFaultProxy(plain);
    try {
      proxy.setFaults([{ match: { method: 'HEAD', path: /\/manifests\// }, kind: 'status', status: 404 }]);
      const r = await run([`${plain.host}/${repo}:v1`, `${proxy.host}/${repo}-checked`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/holds nothing after the copy, expected sha256:/);
    } finally {
      await proxy.stop();
    }
  });

  test('draws progress on one line when stderr is a terminal', async () => {
    const { repo } = await pushed(buildImage({ layers: [3 * 1024 * 1024] }));
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`, '--dest-creds', `${basic.username}:${basic.password}`], {}, true);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('\r\x1b[K');
    expect(r.stderr).toMatch(/\] +\d+% [0-9.]+ [KM]?i?B \/ 3\.0 MiB at .*\/s, ETA /);
  });

  test('never prints credentials a destination echoes in 503 bodies, in retry lines or in the failure', async () => {
    const { repo } = await pushed();
    const echo = await startFakeRegistry({
      basic: ROBOT,
      intercept: ({ req, res }) => {
        if (req.method !== 'PUT' || !req.headers.authorization) return false;
        res.writeHead(503).end(`echo ${req.headers.authorization} ${ROBOT.username}:${ROBOT.password}`);
        return true;
      },
    });
    try {
      const r = await run([`${plain.host}/${repo}:v1`, `${echo.host}/${repo}:v1`, '--dest-creds', `${ROBOT.username}:${ROBOT.password}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('retry:');
      expect(r.stderr).toContain('echo Basic ***');
      expect(r.stdout + r.stderr).not.toContain(ROBOT.password);
      expect(r.stdout + r.stderr).not.toContain(ROBOT_BASIC);
    } finally {
      await echo.close();
    }
  });

  test('prints a registry\'s error text without its terminal control characters', async () => {
    const hostile = await startFakeRegistry({
      intercept: ({ res }) => {
        res.writeHead(403, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'no\x1b]0;title\x07\x1b[2K\rcopy: done\u202e' }] }));
        return true;
      },
    });
    try {
      const r = await run([`${hostile.host}/app:v1`, `${plain.host}/cli/denied:v1`], {}, true);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('DENIED: no');
      // The display's own line clearing is the only escape sequence on stderr.
      expect(r.stderr.split('\r\x1b[K').join('')).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    } finally {
      await hostile.close();
    }
  });

  test('prints help with --help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: cdk-byoc-artifacts copy SRC DST/);
  });

  test.each([
    [[], /SRC and DST are required/],
    [['127.0.0.1:1/a'], /SRC and DST are required/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '127.0.0.1:1/c'], /expected SRC and DST, got 3/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--force'], /unknown option "--force"/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--concurrency', 'many'], /--concurrency "many" is not allowed/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--concurrency', '0'], /--concurrency "0" is not allowed/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--platform', 'linux'], /--platform "linux" is not os\/arch/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--src-creds'], /--src-creds needs a value/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--src-creds', 'justapassword'], /--src-creds must be USER:PASS/],
    [['oci:/tmp/layout', '127.0.0.1:1/b'], /SRC: "oci:\/tmp\/layout" names the oci transport/],
    [['App:v1', '127.0.0.1:1/b'], /SRC: Invalid image reference "docker.io\/library\/App:v1"/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--dest-tls-verify=maybe'], /--dest-tls-verify "maybe" is not allowed: true or false/],
    [['127.0.0.1:1/a', '127.0.0.1:1/b', '--src-cert-dir', '/nonexistent-cert-dir'], /--src-cert-dir "\/nonexistent-cert-dir" cannot be read: ENOENT/],
    [['127.0.0.1:1/a', `127.0.0.1:1/b@sha256:${'1'.repeat(64)}`], /DST: .*names a digest/],
  ])('fails with exit 2 and usage on %j', async (argv, message) => {
    const r = await run(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: cdk-byoc-artifacts copy');
    expect(r.stderr).not.toContain('justapassword');
  });
});

describe('copy command: docker config', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-cli-authfile-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(content: unknown, name = 'config.json'): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(content));
    return file;
  }

  /** A credential helper on PATH that answers the basic registry's account for its host only. */
  function helperEnv(): NodeJS.ProcessEnv {
    fs.writeFileSync(path.join(dir, 'docker-credential-bedtest'), [
      '#!/bin/sh',
      'server=$(cat)',
      `if [ "$server" = "${basic.host}" ]; then printf '{"Username":"${basic.username}","Secret":"${basic.password}"}'; exit 0; fi`,
      'echo "credentials not found in native keychain"; exit 1',
      '',
    ].join('\n'), { mode: 0o755 });
    return { PATH: `${dir}${path.delimiter}${process.env.PATH}` };
  }

  test('logs in through a credHelpers entry of the file given with --authfile', async () => {
    const { img, repo } = await pushed();
    const file = writeConfig({ credHelpers: { [basic.host]: 'bedtest' } }, 'custom.json');
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`, '--authfile', file], helperEnv());
    expect(r.code).toBe(0);
    expect((await readManifest(basic, repo, 'v1'))?.digest).toBe(img.digest);
    expect(r.stdout + r.stderr).not.toContain(basic.password!);
  });

  test('reads $DOCKER_CONFIG/config.json by default, with credsStore', async () => {
    const { img, repo } = await pushed();
    writeConfig({ credsStore: 'bedtest' });
    const r = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`], { ...helperEnv(), DOCKER_CONFIG: dir });
    expect(r.code).toBe(0);
    expect((await readManifest(basic, repo, 'v1'))?.digest).toBe(img.digest);
  });

  test('lets --dest-creds and CDK_BYOC_DEST_CREDS win over the docker config', async () => {
    const { repo } = await pushed();
    const file = writeConfig({ auths: { [basic.host]: { auth: Buffer.from('tester:stale-password').toString('base64') } } });
    const byFlag = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}`, '--authfile', file, '--dest-creds', `${basic.username}:${basic.password}`]);
    expect(byFlag.code).toBe(0);
    const byEnv = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}:env`, '--authfile', file],
      { CDK_BYOC_DEST_CREDS: `${basic.username}:${basic.password}` });
    expect(byEnv.code).toBe(0);
    const byFile = await run([`${plain.host}/${repo}:v1`, `${basic.host}/${repo}:file`, '--authfile', file]);
    expect(byFile.code).toBe(1);
    expect(byFile.stderr).toContain(`${basic.host} refused the credentials from ${file} (auths)`);
    expect(byFile.stderr).not.toContain('stale-password');
  });

  test('fails with exit 1 and code CONFIG when the --authfile cannot be read', async () => {
    const missing = path.join(dir, 'absent.json');
    const r = await run(['127.0.0.1:1/a', '127.0.0.1:1/b', '--authfile', missing, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toEqual({ code: 'CONFIG', message: `copy: cannot read the docker config ${missing}: ENOENT` });
  });
});

describe('copy command: TLS', () => {
  const [tlsSource, tlsDestination] = registriesForSuite({ tls: true }, { tls: true, auth: 'basic' });

  async function pushedOverTls() {
    const img = buildImage({ layers: [10_000] });
    const repo = `tls/app-${++counter}`;
    await pushImage(tlsSource, repo, 'v1', img);
    return { img, repo };
  }

  test('copies between loopback registries over HTTPS, trusting the CA in --src-cert-dir and --dest-cert-dir', async () => {
    const { img, repo } = await pushedOverTls();
    const r = await run([
      `${tlsSource.host}/${repo}:v1`, `${tlsDestination.host}/${repo}`, '--src-cert-dir', tlsSource.tls!.certDir,
      '--dest-cert-dir', tlsDestination.tls!.certDir, '--dest-creds', `${tlsDestination.username}:${tlsDestination.password}`,
    ]);
    expect(r.stderr).not.toContain('failed');
    expect(r.code).toBe(0);
    await expectImage(tlsDestination, repo, 'v1', img);
  });

  test('accepts any certificate from a side with --dest-tls-verify=false', async () => {
    const { img, repo } = await pushedOverTls();
    const r = await run([
      `${tlsSource.host}/${repo}:v1`, `${tlsDestination.host}/${repo}:unverified`, '--src-cert-dir', tlsSource.tls!.certDir,
      '--dest-tls-verify=false', '--dest-creds', `${tlsDestination.username}:${tlsDestination.password}`,
    ]);
    expect(r.code).toBe(0);
    expect((await readManifest(tlsDestination, repo, 'unverified'))?.digest).toBe(img.digest);
  });

  test('fails when a TLS registry is reached without its CA, or over plain HTTP', async () => {
    const { repo } = await pushedOverTls();
    const untrusted = await run([`${tlsSource.host}/${repo}:v1`, `${plain.host}/${repo}`, '--src-tls-verify=true', '--json']);
    expect(untrusted.code).toBe(1);
    expect(JSON.parse(untrusted.stdout).error).toMatchObject({ code: 'NETWORK', message: expect.stringMatching(/unable to verify the first certificate/) });
    expect(untrusted.stderr).toContain('trust the registry\'s CA with --src-cert-dir DIR');
    const plainHttp = await run([`${tlsSource.host}/${repo}:v1`, `${plain.host}/${repo}`]);
    expect(plainHttp.code).toBe(1);
    expect(plainHttp.stderr).toMatch(/HTTP 400/);
  });
});
