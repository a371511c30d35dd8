import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lifecyclePreviewCommand } from '../../src/cli/lifecycle-preview';
import { CommandRun, runCommand } from '../support/cli';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'lifecycle');
const POLICY = path.join(FIXTURES, 'policy.json');
const IMAGES = path.join(FIXTURES, 'describe-images.json');
const NOW = '2026-06-01T12:00:00Z';

function cli(...argv: string[]): Promise<CommandRun> {
  return runCommand(lifecyclePreviewCommand, argv);
}

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lifecycle-preview-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function writeTmp(name: string, content: unknown): Promise<string> {
  const file = path.join(tmp, name);
  await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('lifecycle preview command', () => {
  test('prints a table of what would be expired or archived, by which rule, and a summary', async () => {
    const { code, stdout, stderr } = await cli(POLICY, IMAGES, '--now', NOW);
    expect(stderr).toBe('note: 2 untagged image(s) listed may be platform manifests of the 3 image index(es) kept: '
      + 'ECR does not expire or archive a manifest an index references before the index.\n');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RULE\s+ACTION\s+DIGEST\s+PUSHED\s+CLASS\s+TAGS$/);
    expect(lines.slice(1, 6).map((l) => l.split(/\s+/).filter((c) => !c.startsWith('sha256:')))).toEqual([
      ['1', 'expire', '2026-01-10T09:00:00Z', 'standard', 'v1.0.0'],
      ['2', 'expire', '2026-04-01T10:00:00Z', 'standard', '<untagged>'],
      ['2', 'expire', '2026-05-08T08:59:59Z', 'standard', '<untagged>'],
      ['3', 'archive', '2025-11-01T10:00:00Z', 'standard', 'debug-2025'],
      ['4', 'expire', '2024-12-01T10:00:00Z', 'archive', 'v0.9.0'],
    ]);
    expect(lines[lines.length - 1]).toBe('8 image(s) evaluated at 2026-06-01T12:00:00.000Z: 4 would be expired, 1 archived, 3 kept.');
  });

  test('--json prints previewResults and summary like get-lifecycle-policy-preview', async () => {
    const { code, stdout } = await cli(POLICY, IMAGES, '--json', `--now=${NOW}`);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc.summary).toEqual({ expiringImageTotalCount: 4, transitioningImageTotalCounts: [{ targetStorageClass: 'ARCHIVE', imageTotalCount: 1 }] });
    expect(doc.previewResults[3]).toEqual({
      imageDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
      imageTags: ['debug-2025'],
      imagePushedAt: '2025-11-01T10:00:00.000Z',
      action: { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' },
      appliedRulePriority: 3,
      storageClass: 'STANDARD',
    });
    expect(doc.previewResults.map((r: { appliedRulePriority: number }) => r.appliedRulePriority)).toEqual([1, 2, 2, 3, 4]);
  });

  test('reads the output of get-lifecycle-policy and a bare image list with epoch-second dates', async () => {
    const images = JSON.parse(await fs.readFile(IMAGES, 'utf8')).imageDetails.map((i: { imagePushedAt: unknown }) => ({
      ...i, imagePushedAt: typeof i.imagePushedAt === 'string' ? Date.parse(i.imagePushedAt) / 1000 : i.imagePushedAt,
    }));
    const bare = await writeTmp('bare.json', images);
    const fromDescribe = await cli(POLICY, IMAGES, '--json', '--now', NOW);
    const fromBare = await cli(path.join(FIXTURES, 'get-lifecycle-policy.json'), bare, '--json', '--now', NOW);
    expect(fromBare.code).toBe(0);
    expect(JSON.parse(fromBare.stdout)).toEqual(JSON.parse(fromDescribe.stdout));
  });

  test('reports that nothing would happen when no rule marks an image', async () => {
    const images = await writeTmp('one.json', { imageDetails: [{ imageDigest: `sha256:${'a'.repeat(64)}`, imageTags: ['v1'], imagePushedAt: NOW }] });
    const { code, stdout } = await cli(POLICY, images, '--now', NOW);
    expect(code).toBe(0);
    expect(stdout).toBe('1 image(s) evaluated at 2026-06-01T12:00:00.000Z: 0 would be expired, 0 archived, 1 kept.\n');
  });

  test('notes that ECR removes the referrers of images it expires', async () => {
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const images = await writeTmp('referrers.json', {
      imageDetails: [
        { imageDigest: digest('a'), imageTags: ['v1'], imagePushedAt: '2026-01-01T00:00:00Z', imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' },
        { imageDigest: digest('b'), imageTags: ['v2'], imagePushedAt: '2026-01-02T00:00:00Z' },
        { imageDigest: digest('c'), imageTags: ['v3'], imagePushedAt: '2026-01-03T00:00:00Z' },
        { imageDigest: digest('d'), imageTags: ['v4'], imagePushedAt: '2026-01-04T00:00:00Z' },
        { imageDigest: digest('e'), imagePushedAt: '2026-05-30T00:00:00Z', subjectManifestDigest: digest('a'), artifactMediaType: 'application/vnd.cncf.notary.signature' },
      ],
    });
    const { code, stdout, stderr } = await cli(POLICY, images, '--now', NOW, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).previewResults.map((r: { imageDigest: string }) => r.imageDigest)).toEqual([digest('a')]);
    expect(stderr).toBe('note: 1 referrer(s) (signatures, SBOMs, ...) of images listed will be expired or archived by ECR within 24 hours after their subject.\n');
  });

  test('prints warnings about rules that can never act on stderr', async () => {
    const policy = await writeTmp('shadow.json', JSON.stringify({
      rules: [
        { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['*'], countType: 'imageCountMoreThan', countNumber: 5 }, action: { type: 'expire' } },
        { rulePriority: 2, selection: { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
      ],
    }));
    const { code, stderr } = await cli(policy, IMAGES, '--now', NOW);
    expect(code).toBe(0);
    expect(stderr).toContain('warning: rules[1] (rulePriority 2) can never act');
  });

  test('fails with exit 1 and every policy problem on an invalid policy', async () => {
    const policy = await writeTmp('bad.json', JSON.stringify({
      rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePulled', countNumber: 0 }, action: { type: 'expire' } }],
    }, null, 2));
    const { code, stdout, stderr } = await cli(policy, IMAGES);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('Invalid lifecycle policy:');
    expect(stderr).toContain('selection.countUnit: undefined');
    expect(stderr).toContain('selection.countNumber: 0');
    expect(stderr).toContain('action.type: "expire"');
  });

  test('fails with exit 1 naming each bad image', async () => {
    const images = await writeTmp('badimages.json', { imageDetails: [{ imageDigest: 'sha256:short', imagePushedAt: 'yesterday' }, { imageDigest: `sha256:${'b'.repeat(64)}` }] });
    const { code, stderr } = await cli(POLICY, images);
    expect(code).toBe(1);
    expect(stderr).toContain('image 0: imageDigest "sha256:short" is not a sha256 digest');
    expect(stderr).toContain('image 0: imagePushedAt "yesterday" is not an ISO-8601 time or epoch seconds');
    expect(stderr).toContain('image 1: imagePushedAt is missing');
  });

  test('fails with exit 1 when a file cannot be read or is not an image list', async () => {
    const missing = await cli(POLICY, path.join(tmp, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.json: ENOENT');
    const notList = await cli(POLICY, await writeTmp('obj.json', { images: [] }));
    expect(notList.code).toBe(1);
    expect(notList.stderr).toContain("expected the output of 'aws ecr describe-images'");
  });

  test.each([
    ['a missing file name', [POLICY], 'expected POLICY.json and IMAGES.json, got 1 file name(s)'],
    ['a --now that is not a date', [POLICY, IMAGES, '--now', 'tomorrow'], '--now needs an ISO-8601 date or time'],
    ['an unknown option', [POLICY, IMAGES, '--verbose'], 'unknown option "--verbose"'],
  ])('fails with exit 2 and the usage on %s', async (_title, argv, message) => {
    const { code, stderr } = await cli(...argv);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).toContain('Usage: cdk-byoc-artifacts lifecycle preview');
  });

  test('--help prints the usage and succeeds', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: cdk-byoc-artifacts lifecycle preview POLICY.json IMAGES.json');
  });
});
