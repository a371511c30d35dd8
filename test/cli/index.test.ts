import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BUNDLED_CLI, CommandRun, runBundledCli } from '../support/cli';
import { amplifyingIndex, serveGraph, startFakeRegistry, startServer } from '../support/hostile';
import { buildImage, buildIndex, expectImage, pushImage, readManifest } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'lifecycle');

/** Runs the bundled CLI as a separate process, as `npx cdk-byoc-artifacts` would. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  // No docker config unless a test gives one: the machine's own stays out of the tests.
  return runBundledCli(args, { ...process.env, DOCKER_CONFIG: path.join(os.tmpdir(), 'byoc-cli-no-docker-config'), ...env });
}

describe('the cdk-byoc-artifacts command', () => {
  const [source, destination] = registriesForSuite({}, { auth: 'basic' });

  test('prints its usage with --help and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cdk-byoc-artifacts copy SRC DST');
    expect(r.stdout).toContain('cdk-byoc-artifacts lifecycle preview POLICY.json IMAGES.json');
    expect(r.stdout).toContain('cdk-byoc-artifacts sync CONFIG [--dry-run]');
    expect(r.stdout).toContain('cdk-byoc-artifacts --version');
  });

  test('prints the package version with --version and exits 0', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  test('syncs from a YAML config with the YAML parser of its own side bundle', async () => {
    const img = buildImage();
    await pushImage(source, 'yaml/app', 'v1', img);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-cli-sync-'));
    try {
      const config = path.join(dir, 'release.yaml');
      fs.writeFileSync(config, `images:\n  - source: ${source.host}/yaml/app\n    destination: ${source.host}/yaml/copy\n    tags: [v1]\n`);
      const r = await cli(['sync', config]);
      expect(r.stderr).toContain('1 images: 1 copied');
      expect(r.code).toBe(0);
      expect((await readManifest(source, 'yaml/copy', 'v1'))?.digest).toBe(img.digest);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('loads neither the AWS SDK, the YAML parser nor aws-cdk-lib for --version or a copy between registries that are not ECR', async () => {
    const img = buildImage();
    await pushImage(source, 'startup/app', 'v1', img);
    const script = [
      `const { main } = require(${JSON.stringify(BUNDLED_CLI)});`,
      'const io = { stdout: process.stdout, stderr: process.stderr, env: {} };',
      `main(['--version'], io).then(() => main(['copy', ${JSON.stringify(`${source.host}/startup/app:v1`)}, ${JSON.stringify(`${source.host}/startup/copy`)}], io))`,
      '  .then((code) => console.log(JSON.stringify({ code, loaded: Object.keys(require.cache).filter((f) => /ecr-sdk|yaml|aws-cdk-lib|@aws-sdk/.test(f)) })));',
    ].join('\n');
    const r = await new Promise<CommandRun>((resolve) => {
      execFile(process.execPath, ['-e', script], { timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }));
    });
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(last).toEqual({ code: 0, loaded: [] });
    expect(fs.existsSync(path.join(path.dirname(BUNDLED_CLI), 'ecr-sdk.js'))).toBe(true);
  });

  test.each([
    [[], 'missing command'],
    [['mirror'], 'unknown command "mirror"'],
    [['sync'], 'sync: CONFIG is required'],
    [['lifecycle', 'apply'], 'unknown lifecycle command "apply"'],
  ])('fails with exit status 2 and the usage for %j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage:');
  });

  test('copies an index that names one manifest 400 times with one request for that manifest', async () => {
    const graph = amplifyingIndex(400, 1024 * 1024);
    const hostile = await startFakeRegistry();
    serveGraph(hostile, 'app', 'v1', graph);
    try {
      const r = await cli(['copy', `${hostile.host}/app:v1`, `${source.host}/cli/amplified:v1`, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).digest).toBe(graph.top.digest);
      expect(hostile.requests.filter((q) => q.method === 'GET' && q.path.includes('/manifests/'))).toHaveLength(2);
    } finally {
      await hostile.close();
    }
  });

  test('fails without sending credentials to a blob redirect target that answers 401 with its own realm', async () => {
    const cdn = await startServer((req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="cdn"` }).end();
    });
    const user = { username: 'robot', password: 'cli-redirect-passw0rd' };
    const hostile = await startFakeRegistry({
      basic: user,
      intercept: ({ req, res }) => {
        if (req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url ?? '') || !req.headers.authorization) return false;
        res.writeHead(307, { location: `${cdn.origin}${req.url}` }).end();
        return true;
      },
    });
    hostile.put('app', 'v1', buildImage());
    try {
      const r = await cli(['copy', `${hostile.host}/app:v1`, `${source.host}/cli/redirected:v1`, '--src-creds', `${user.username}:${user.password}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[UNAUTHORIZED]');
      expect(r.stderr).toContain('which is not the registry');
      expect(cdn.requests.length).toBeGreaterThan(0);
      expect(cdn.requests.filter((q) => q.authorization !== undefined || q.path.startsWith('/token'))).toEqual([]);
      expect(r.stderr).not.toContain(user.password);
    } finally {
      await Promise.all([hostile.close(), cdn.close()]);
    }
  });

  test('copies a multi-platform index byte for byte and prints the result as JSON', async () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], layers: [40_000, 10_000] });
    await pushImage(source, 'vendor/app', '1.0.0', img);

    const r = await cli(['copy', `${source.host}/vendor/app:1.0.0`, `${destination.host}/install/app`, '--json'], {
      CDK_BYOC_DEST_CREDS: `${destination.username}:${destination.password}`,
    });

    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ complete: true, digest: img.digest, sourceDigest: img.digest, mediaType: img.mediaType, tag: '1.0.0' });
    expect(result.blobsCopied).toBeGreaterThan(0);
    await expectImage(destination, 'install/app', '1.0.0', img);
    expect(r.stdout + r.stderr).not.toContain(destination.password!);
  });

  test('fails with a non-zero exit status and no tag when the source does not exist', async () => {
    const r = await cli(['copy', `${source.host}/vendor/missing:1.0.0`, `${destination.host}/install/missing`], {
      CDK_BYOC_DEST_CREDS: `${destination.username}:${destination.password}`,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not (found|exist)/i);
    expect(r.stderr).not.toContain(destination.password!);
    expect(await readManifest(destination, 'install/missing', '1.0.0')).toBeUndefined();
  });

  test('previews a lifecycle policy over describe-images output', async () => {
    const r = await cli([
      'lifecycle', 'preview', path.join(FIXTURES, 'policy.json'), path.join(FIXTURES, 'describe-images.json'),
      '--now', '2026-06-01T12:00:00Z', '--json',
    ]);
    expect(r.code).toBe(0);
    const { previewResults } = JSON.parse(r.stdout);
    expect(previewResults.length).toBeGreaterThan(0);
    for (const result of previewResults) {
      expect(result).toEqual(expect.objectContaining({
        imageDigest: expect.stringMatching(/^sha256:/),
        action: expect.objectContaining({ type: expect.stringMatching(/^(EXPIRE|TRANSITION)$/) }),
        appliedRulePriority: expect.any(Number),
      }));
    }
  });
});
