import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { syncCommand } from '../../src/cli/sync';
import { CommandRun, runCommand } from '../support/cli';
import { buildImage, listTags as bedTags, pushImage, readManifest } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const [source, destination, tlsRegistry] = registriesForSuite({}, { auth: 'basic' }, { tls: true });
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-sync-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function sync(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  return runCommand(syncCommand, argv, { DOCKER_CONFIG: dir, DEST_CREDS: `${destination.username}:${destination.password}`, ...env });
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

let counter = 0;
/** A source repository with the given tags, each a different image. */
async function repository(tags: string[]) {
  const repo = `sync/app-${++counter}`;
  const images = new Map<string, string>();
  for (const tag of tags) {
    const img = buildImage({ layers: [2000 + tags.indexOf(tag)] });
    await pushImage(source, repo, tag, img);
    images.set(tag, img.digest);
  }
  return { repo, images };
}

describe('sync command', () => {
  test('copies a list of tags, the tags a pattern matches and a single image from YAML, then finds them all there', async () => {
    const app = await repository(['v1.0.0', 'v1.1.0', 'v2.0.0', 'latest']);
    const tool = await repository(['1.0']);
    const config = write('sync.yaml', [
      'registries:',
      `  ${destination.host}:`,
      '    credentialsEnv: DEST_CREDS',
      'images:',
      `  - source: ${source.host}/${app.repo}`,
      `    destination: ${destination.host}/${app.repo}-listed`,
      '    tags: [v1.0.0, latest]',
      `  - source: ${source.host}/${app.repo}`,
      `    destination: ${destination.host}/${app.repo}-matched`,
      "    tagPattern: '^v1\\.'",
      `  - source: docker://${source.host}/${tool.repo}:1.0`,
      `    destination: ${destination.host}/${tool.repo}:stable`,
      '',
    ].join('\n'));
    const r = await sync([config]);
    expect(r.stderr).toContain('5 images: 5 copied, 0 already there, 0 failed');
    expect(r.code).toBe(0);
    expect((await bedTags(destination, `${app.repo}-listed`)).sort()).toEqual(['latest', 'v1.0.0']);
    expect((await bedTags(destination, `${app.repo}-matched`)).sort()).toEqual(['v1.0.0', 'v1.1.0']);
    expect((await readManifest(destination, `${app.repo}-matched`, 'v1.1.0'))?.digest).toBe(app.images.get('v1.1.0'));
    expect((await readManifest(destination, tool.repo, 'stable'))?.digest).toBe(tool.images.get('1.0'));
    expect(r.stderr).not.toContain(destination.password!);

    const again = await sync([config, '--json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.failed).toBe(0);
    expect(report.images.map((i: { status: string }) => i.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(again.stderr).toContain('5 images: 0 copied, 5 already there, 0 failed');
  });

  test('prints the plan with --dry-run and changes nothing', async () => {
    const app = await repository(['a', 'b', 'c']);
    const target = `${app.repo}-plan`;
    const seed = write('seed.json', JSON.stringify({
      registries: { [destination.host]: { credentialsEnv: 'DEST_CREDS' } },
      images: [
        { source: `${source.host}/${app.repo}:a`, destination: `${destination.host}/${target}` },
        { source: `${source.host}/${app.repo}:a`, destination: `${destination.host}/${target}:b` },
      ],
    }));
    expect((await sync([seed])).code).toBe(0);
    const config = write('plan.json', JSON.stringify({
      registries: { [destination.host]: { credentialsEnv: 'DEST_CREDS' } },
      images: [
        { source: `${source.host}/${app.repo}`, destination: `${destination.host}/${target}`, tags: ['a', 'b', 'c'] },
        { source: `${source.host}/${app.repo}:b`, destination: `${destination.host}/${target}:b`, noClobber: true },
      ],
    }));
    const r = await sync([config, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`already there: ${source.host}/${app.repo}:a -> ${destination.host}/${target}:a`);
    expect(r.stderr).toContain(`would move ${destination.host}/${target}:b from ${app.images.get('a')} to ${app.images.get('b')}`);
    expect(r.stderr).toContain(`would copy ${source.host}/${app.repo}:c -> ${destination.host}/${target}:c`);
    expect(r.stderr).toContain(`refused (no-clobber): ${destination.host}/${target}:b holds ${app.images.get('a')}`);
    expect(r.stderr).toContain('sync --dry-run: 4 images: 1 to copy, 1 tags to move, 1 refused (no-clobber), 1 already there, 0 failed');
    expect((await bedTags(destination, target)).sort()).toEqual(['a', 'b']);
    expect((await readManifest(destination, target, 'b'))?.digest).toBe(app.images.get('a'));
  });

  test('fails with exit 1 naming each image that failed, after copying the others', async () => {
    const app = await repository(['v1']);
    const config = write('partial.yaml', [
      'registries:',
      `  ${destination.host}: { credentialsEnv: DEST_CREDS }`,
      'images:',
      `  - { source: "${source.host}/${app.repo}", destination: "${destination.host}/${app.repo}", tags: [v1, missing] }`,
      `  - { source: "${source.host}/sync/nothing-here", destination: "${destination.host}/nothing", tagPattern: "." }`,
      `  - { source: "${source.host}/${app.repo}:v1", destination: "${source.host}/${app.repo}-anonymous-copy" }`,
      '',
    ].join('\n'));
    const r = await sync([config, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.failed).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`failed: ${source.host}/sync/nothing-here -> ${destination.host}/nothing: \\[NOT_FOUND\\]`));
    expect(r.stderr).toMatch(new RegExp(`failed: ${source.host}/${app.repo}:missing -> ${destination.host}/${app.repo}:missing: \\[NOT_FOUND\\]`));
    expect(r.stderr).toContain('4 images: 2 copied, 0 already there, 2 failed');
    expect((await readManifest(destination, app.repo, 'v1'))?.digest).toBe(app.images.get('v1'));
    expect((await readManifest(source, `${app.repo}-anonymous-copy`, 'v1'))?.digest).toBe(app.images.get('v1'));
  });

  test('fails naming refused credentials and where they came from, never printing them', async () => {
    const app = await repository(['v1']);
    const config = write('refused.yaml', [
      'registries:',
      `  ${destination.host}: { credentialsEnv: DEST_CREDS }`,
      'images:',
      `  - { source: "${source.host}/${app.repo}:v1", destination: "${destination.host}/${app.repo}" }`,
      '',
    ].join('\n'));
    const r = await sync([config], { DEST_CREDS: 'tester:wrong-secret' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`[UNAUTHORIZED] ${destination.host} refused the credentials from DEST_CREDS (registries.${destination.host}.credentialsEnv)`);
    expect(r.stderr).not.toContain('wrong-secret');
    const anonymous = await sync([write('anonymous.yaml', `images:\n  - { source: "${source.host}/${app.repo}:v1", destination: "${destination.host}/${app.repo}" }\n`)]);
    expect(anonymous.stderr).toContain(`no credentials for ${destination.host}; docker login ${destination.host} or a credentialsEnv for it under registries in the config`);
  });

  test('reaches a TLS registry through the certDir of its registries entry', async () => {
    const app = await repository(['v1']);
    const config = write('tls.yaml', [
      'registries:',
      `  ${tlsRegistry.host}:`,
      `    certDir: ${tlsRegistry.tls!.certDir}`,
      'images:',
      `  - source: ${source.host}/${app.repo}:v1`,
      `    destination: ${tlsRegistry.host}/${app.repo}`,
      '',
    ].join('\n'));
    const r = await sync([config]);
    expect(r.stderr).toContain('1 images: 1 copied');
    expect(r.code).toBe(0);
    expect((await readManifest(tlsRegistry, app.repo, 'v1'))?.digest).toBe(app.images.get('v1'));
  });

  test('fails with CONFIG listing every problem of the file at once', async () => {
    const config = write('bad.yaml', [
      'defaults:',
      '  parallelImages: 100',
      '  colour: blue',
      'images:',
      '  - source: ghcr.io/org/app',
      '    destination: ghcr.io/org/copy',
      '  - source: ghcr.io/org/app',
      '    destination: ghcr.io/org/copy',
      "    tagPattern: '(['",
      '  - source: ghcr.io/org/app:v1',
      '    destination: ghcr.io/org/copy',
      '    tags: [v1]',
      '',
    ].join('\n'));
    const r = await sync([config, '--json']);
    expect(r.code).toBe(1);
    const { error } = JSON.parse(r.stdout);
    expect(error.code).toBe('CONFIG');
    expect(error.message).toContain(`${config} has 5 problems`);
    expect(error.message).toContain('defaults.parallelImages: 100 is not allowed: an integer from 1 to 16');
    expect(error.message).toContain('defaults.colour: unknown key');
    expect(error.message).toContain('images[0]: the source "ghcr.io/org/app" is a repository: give tags (a list) or tagPattern');
    expect(error.message).toContain('images[1].tagPattern: "([" is not a regular expression');
    expect(error.message).toContain('images[2]: the source "ghcr.io/org/app:v1" names a tag or digest, so tags and tagPattern are not allowed');
  });

  test.each([
    [[], /CONFIG is required/],
    [['a.yaml', 'b.yaml'], /expected one CONFIG, got 2/],
    [['a.yaml', '--force'], /unknown option "--force"/],
  ])('fails with exit 2 and usage on %j', async (argv, message) => {
    const r = await sync(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: cdk-byoc-artifacts sync CONFIG');
  });

  test('fails naming an unset credentialsEnv and an unreadable file', async () => {
    const config = write('env.json', JSON.stringify({
      registries: { 'ghcr.io': { credentialsEnv: 'NOT_SET_ANYWHERE' } }, images: [{ source: 'ghcr.io/org/app:v1', destination: 'ghcr.io/org/copy' }],
    }));
    expect((await sync([config])).stderr).toContain('registries.ghcr.io.credentialsEnv names NOT_SET_ANYWHERE, which is not set');
    const missing = path.join(dir, 'absent.yaml');
    expect((await sync([missing])).stderr).toContain(`cannot read ${missing}: ENOENT`);
  });
});
