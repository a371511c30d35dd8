import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleCommand } from '../../src/cli/bundle';
import { CommandRun, runCommand } from '../support/cli';
import { listTags, readBlob, readManifest } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const [plain] = registriesForSuite({});

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'bundles', 'network');
const TYPE = 'application/vnd.acme.terraform.module.v1';

function run(argv: string[]): Promise<CommandRun> {
  return runCommand(bundleCommand, argv);
}

describe('bundle push', () => {
  test('pushes a directory, one layer per file, and gives the same digest from a copy of it', async () => {
    const first = await run(['push', FIXTURE, `${plain.host}/modules/network:1.0.0`, '--artifact-type', TYPE, '--exclude', '.terraform/']);
    expect(first.code).toBe(0);
    const held = await readManifest(plain, 'modules/network', '1.0.0');
    expect(first.stdout).toBe(`${plain.host}/modules/network@${held!.digest}\n`);
    const manifest = JSON.parse(held!.body.toString());
    expect(manifest.artifactType).toBe(TYPE);
    expect(manifest.layers.map((l: any) => l.annotations['org.opencontainers.image.title'])).toEqual(['main.tf', 'modules/vpc/main.tf', 'variables.tf']);

    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-cli-')), 'network');
    fs.cpSync(FIXTURE, copy, { recursive: true });
    fs.utimesSync(path.join(copy, 'main.tf'), new Date('2031-01-01'), new Date('2031-01-01'));
    const second = await run(['push', copy, `oci://${plain.host}/modules/network-b:1.0.0`, '--artifact-type', TYPE, '--exclude=.terraform/']);
    expect(second.stdout.split('@')[1]).toBe(first.stdout.split('@')[1]);
  });

  test('pushes a directory as one tar+gzip layer with --archive, and a single file as one layer', async () => {
    const archived = await run(['push', FIXTURE, `${plain.host}/modules/archived:v1`, '--artifact-type', TYPE, '--archive', '--exclude', '.terraform/', '--json']);
    expect(archived.code).toBe(0);
    expect(JSON.parse(archived.stdout)).toMatchObject({ tag: 'v1', blobsPushed: 2 });
    const manifest = JSON.parse((await readManifest(plain, 'modules/archived', 'v1'))!.body.toString());
    expect(manifest.layers).toEqual([expect.objectContaining({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      annotations: expect.objectContaining({ 'io.deis.oras.content.unpack': 'true', 'org.opencontainers.image.title': 'network' }),
    })]);

    const single = await run(['push', path.join(FIXTURE, 'main.tf'), `${plain.host}/files/main:v1`, '--artifact-type', 'text/plain', '--created', '2026-01-02T03:04:05Z']);
    expect(single.code).toBe(0);
    const file = JSON.parse((await readManifest(plain, 'files/main', 'v1'))!.body.toString());
    expect(file.annotations['org.opencontainers.image.created']).toBe('2026-01-02T03:04:05Z');
    expect((await readBlob(plain, 'files/main', file.layers[0].digest))!.toString()).toContain('module "vpc"');
  });

  test.each([
    [['push', FIXTURE, '127.0.0.1:5000/m'], /--artifact-type is required/],
    [['push', FIXTURE], /expected SOURCE and DST_REPO:TAG, got 1/],
    [['push', FIXTURE, '127.0.0.1:5000/m', '--artifact-type', TYPE], /names no tag: give repository:tag/],
    [['push', FIXTURE, `127.0.0.1:5000/m@sha256:${'a'.repeat(64)}`, '--artifact-type', TYPE], /names a digest/],
    [['fetch'], /unknown command "fetch"/],
  ])('fails with exit 2 on the usage error %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('fails with exit 1 naming the problem, pushing nothing', async () => {
    const badType = await run(['push', FIXTURE, `${plain.host}/bad/type:v1`, '--artifact-type', 'terraform']);
    expect(badType.code).toBe(1);
    expect(badType.stderr).toMatch(/artifactType "terraform" is not allowed/);
    const missing = await run(['push', path.join(FIXTURE, 'nope'), `${plain.host}/bad/missing:v1`, '--artifact-type', TYPE]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/SOURCE ".*nope": no such file or directory/);
    expect(await listTags(plain, 'bad/type')).toEqual([]);
  });
});
