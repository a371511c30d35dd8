import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { chartCommand } from '../../src/cli/chart';
import { main } from '../../src/cli/index';
import { BUNDLED_CLI, CommandRun, runBundledCli, runCommand } from '../support/cli';
import { ClassicRepo, pullChartLikeHelm, startClassicRepo } from '../support/helm';
import { listTags, makeTar } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const [plain, basic] = registriesForSuite({}, { auth: 'basic' });

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'charts', 'web');

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  return runCommand(chartCommand, argv, env);
}

/** A chart archive packed by another tool (its own times and header order), as a classic repository serves it. */
function foreignArchive(name: string, version: string): Buffer {
  return zlib.gzipSync(makeTar([
    { name: `${name}/Chart.yaml`, data: Buffer.from(`apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: Imported\n`) },
    { name: `${name}/values.yaml`, data: Buffer.from(`nonce: ${crypto.randomBytes(4).toString('hex')}\n`) },
    { name: `${name}/templates/cm.yaml`, data: Buffer.from('kind: ConfigMap\n') },
  ]), { level: 6 });
}

describe('chart push', () => {
  test('pushes a chart directory as Helm\'s artifact and prints DST_REPO@digest', async () => {
    const r = await run(['push', FIXTURE, `${basic.host}/charts/web`], { CDK_BYOC_DEST_CREDS: `${basic.username}:${basic.password}` });
    expect(r.code).toBe(0);
    const pulled = await pullChartLikeHelm(basic, 'charts/web', '1.2.3_build.7');
    expect(r.stdout).toBe(`${basic.host}/charts/web@${pulled.digest}\n`);
    expect(r.stderr).toMatch(/pushed sha256:[a-f0-9]{64} as 1\.2\.3_build\.7: 2 blobs/);
    const names = [...pulled.files.keys()];
    expect(names).toContain('web/charts/sub/Chart.yaml');
    expect(names.filter(n => /secrets|\.bak$|\/ci\/|\.swp$/.test(n))).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(basic.password!);
  });

  test('gives the same digest across two pushes of the same directory, copied elsewhere with other times', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-cli-'));
    fs.cpSync(FIXTURE, copy, { recursive: true });
    fs.utimesSync(path.join(copy, 'values.yaml'), new Date('2031-01-01'), new Date('2031-01-01'));
    const first = await run(['push', FIXTURE, `${plain.host}/twice/a/web`]);
    const second = await run(['push', copy, `oci://${plain.host}/twice/b/web`]);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.stdout.split('@')[1]).toBe(first.stdout.split('@')[1]);
    const again = await run(['push', FIXTURE, `${plain.host}/twice/a/web`]);
    expect(again.stderr).toMatch(/already there: sha256:[a-f0-9]{64} under 1\.2\.3_build\.7, nothing pushed/);
    expect(again.stdout).toBe(first.stdout);
  });

  test('pushes a packaged .tgz with its bytes unchanged and the .prov beside it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-tgz-'));
    const archive = foreignArchive('api', '3.1.0');
    fs.writeFileSync(path.join(dir, 'api-3.1.0.tgz'), archive);
    fs.writeFileSync(path.join(dir, 'api-3.1.0.tgz.prov'), '-----BEGIN PGP SIGNED MESSAGE-----\nprov\n');
    const r = await run(['push', path.join(dir, 'api-3.1.0.tgz'), `${plain.host}/charts/api`, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    const pulled = await pullChartLikeHelm(plain, 'charts/api', '3.1.0');
    expect(result).toMatchObject({ digest: pulled.digest, tag: '3.1.0', blobsPushed: 3 });
    expect(pulled.archive.equals(archive)).toBe(true);
    expect(pulled.prov?.toString()).toContain('prov');
  });

  test('notes a repository whose last part is not the chart name', async () => {
    const r = await run(['push', FIXTURE, `${plain.host}/charts/website`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/last path part "website" is not the chart name "web"/);
  });

  test.each([
    [['push', FIXTURE], /expected SOURCE and DST_REPO, got 1/],
    [['push', FIXTURE, '127.0.0.1:5000/charts/web:1.0.0'], /names a tag: give the repository only/],
    [['push', FIXTURE, '127.0.0.1:5000/charts/web', '--bogus'], /unknown option "--bogus"/],
    [['fly'], /unknown command "fly"/],
  ])('fails with exit 2 on the usage error %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('fails with exit 1 naming the problem when SOURCE is no chart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'not-chart-'));
    const r = await run(['push', dir, `${plain.host}/charts/none`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Chart\.yaml is missing/);
    const missing = await run(['push', path.join(dir, 'nope.tgz'), `${plain.host}/charts/none`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/SOURCE ".*nope\.tgz": no such file or directory/);
  });

  test('is reachable from the top-level command and its help', async () => {
    const r = await runCommand(main, ['chart', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/chart import REPO_URL CHART VERSION DST_REPO/);
  });
});

describe('chart import', () => {
  let repo: ClassicRepo;
  const archives = {
    relative: foreignArchive('nginx', '15.4.2'),
    absolute: foreignArchive('nginx', '15.5.0+up1'),
    tampered: foreignArchive('nginx', '16.0.0'),
    renamed: foreignArchive('other', '1.0.0'),
  };

  beforeAll(async () => {
    repo = await startClassicRepo([
      { name: 'nginx', version: '15.4.2', archive: archives.relative, created: '2026-02-03T04:05:06.789012345+02:00' },
      { name: 'nginx', version: '15.5.0+up1', archive: archives.absolute, url: 'ORIGIN/elsewhere/nginx-15.5.0.tgz' },
      { name: 'nginx', version: '16.0.0', archive: archives.tampered, digest: crypto.createHash('sha256').update('something else').digest('hex') },
      { name: 'renamed', version: '1.0.0', archive: archives.renamed },
    ]);
  });

  afterAll(async () => {
    await repo.stop();
  });

  test('imports a chart version with its archive\'s bytes unchanged and created from the index', async () => {
    const r = await run(['import', repo.url, 'nginx', '15.4.2', `${plain.host}/imported/nginx`]);
    expect(r.code).toBe(0);
    const pulled = await pullChartLikeHelm(plain, 'imported/nginx', '15.4.2');
    expect(r.stdout).toBe(`${plain.host}/imported/nginx@${pulled.digest}\n`);
    expect(pulled.archive.equals(archives.relative)).toBe(true);
    expect(pulled.manifest.annotations['org.opencontainers.image.created']).toBe('2026-02-03T02:05:06Z');
    expect(r.stderr).toMatch(/matches the index digest sha256:/);
  });

  test('gives the same digest on every import of the same version', async () => {
    const first = await run(['import', `${repo.url}/`, 'nginx', '15.4.2', `${plain.host}/imported-a/nginx`]);
    const second = await run(['import', repo.url, 'nginx', '15.4.2', `${plain.host}/imported-b/nginx`]);
    expect(first.code).toBe(0);
    expect(second.stdout.split('@')[1]).toBe(first.stdout.split('@')[1]);
  });

  test('follows an absolute archive URL and tags a version with + as _', async () => {
    const r = await run(['import', repo.url, 'nginx', '15.5.0+up1', `${basic.host}/imported/nginx`, '--dest-creds', `${basic.username}:${basic.password}`]);
    expect(r.code).toBe(0);
    const pulled = await pullChartLikeHelm(basic, 'imported/nginx', '15.5.0_up1');
    expect(pulled.archive.equals(archives.absolute)).toBe(true);
    expect(repo.requests).toContain('/elsewhere/nginx-15.5.0.tgz');
  });

  test('fails with exit 1 and pushes nothing when the archive does not match the index digest', async () => {
    const r = await run(['import', repo.url, 'nginx', '16.0.0', `${plain.host}/tampered/nginx`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed \[DIGEST_MISMATCH\]: .*nginx-16\.0\.0\.tgz hashes to sha256:[a-f0-9]{64} but .*index\.yaml gives sha256:[a-f0-9]{64} for nginx 16\.0\.0; nothing was pushed/);
    expect(r.stdout).toBe('');
    expect(await listTags(plain, 'tampered/nginx')).toEqual([]);
  });

  test.each([
    ['a chart the index lacks', ['mysql', '1.0.0'], /\[NOT_FOUND\].*has no chart "mysql"; it has 2 chart\(s\): "nginx", "renamed"/],
    ['a version the index lacks', ['nginx', '9.9.9'], /\[NOT_FOUND\].*chart "nginx" has no version "9\.9\.9"; it has "15\.4\.2", "15\.5\.0\+up1", "16\.0\.0"/],
    ['an archive that holds another chart', ['renamed', '1.0.0'], /\[INVALID\].*holds chart other 1\.0\.0, not renamed 1\.0\.0 as .*index\.yaml says; refused/],
  ])('fails with exit 1 on %s', async (_name, words, message) => {
    const r = await run(['import', repo.url, ...words, `${plain.host}/missing/x`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await listTags(plain, 'missing/x')).toEqual([]);
  });

  test('sends --repo-creds to the repository only, and fails clearly without them', async () => {
    const auth = { username: 'reader', password: 'repo-s3cret-77' };
    const locked = await startClassicRepo([{ name: 'nginx', version: '1.0.0', archive: foreignArchive('nginx', '1.0.0') }], { auth });
    try {
      const denied = await run(['import', locked.url, 'nginx', '1.0.0', `${plain.host}/locked/nginx`]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/\[UNAUTHORIZED\].*HTTP 401; give the repository's credentials \(--repo-creds USER:PASS\)/);
      const r = await run(['import', locked.url, 'nginx', '1.0.0', `${plain.host}/locked/nginx`], { CDK_BYOC_REPO_CREDS: `${auth.username}:${auth.password}` });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(auth.password);
    } finally {
      await locked.stop();
    }
  });

  test('fails with exit 2 on missing words', async () => {
    const r = await run(['import', repo.url, 'nginx']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected REPO_URL CHART VERSION DST_REPO, got 2/);
  });
});

describe('the bundled command', () => {
  const cli = (args: string[]) => runBundledCli(args);

  test('pushes a chart directory and imports from a classic repository in a process of its own', async () => {
    expect(fs.existsSync(BUNDLED_CLI)).toBe(true);
    const pushed = await cli(['chart', 'push', FIXTURE, `${plain.host}/bin/web`]);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toBe(`${plain.host}/bin/web@${(await pullChartLikeHelm(plain, 'bin/web', '1.2.3_build.7')).digest}\n`);
    const archive = foreignArchive('redis', '7.0.0');
    const repo = await startClassicRepo([{ name: 'redis', version: '7.0.0', archive }]);
    try {
      const imported = await cli(['chart', 'import', repo.url, 'redis', '7.0.0', `${plain.host}/bin/redis`]);
      expect(imported.code).toBe(0);
      expect((await pullChartLikeHelm(plain, 'bin/redis', '7.0.0')).archive.equals(archive)).toBe(true);
    } finally {
      await repo.stop();
    }
  });
});
