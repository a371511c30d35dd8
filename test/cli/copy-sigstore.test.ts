import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { copyCommand } from '../../src/cli/copy';
import { buildImage, expectImage, listTags, pushImage } from '../support/images';
import { ReferrersFront, startReferrersFront } from '../support/referrers-front';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';
import { TestSigstore, bundleReferrer, startTestSigstore } from '../support/sigstore';

let plain: TestRegistry;
let front: ReferrersFront;
let sigstore: TestSigstore;
let dir: string;
let rootFile: string;

beforeAll(async () => {
  plain = await startRegistry();
  front = await startReferrersFront(plain);
  sigstore = await startTestSigstore();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-sigstore-'));
  rootFile = path.join(dir, 'trusted_root.json');
  fs.writeFileSync(rootFile, sigstore.trustedRoot);
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await front?.stop();
  await stopAll();
});

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c: Buffer) => chunks.out.push(c));
  err.on('data', (c: Buffer) => chunks.err.push(c));
  const code = await copyCommand(argv, { stdout: out, stderr: err, env: {} });
  return { code, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
}

const GITHUB = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/vendor/app/.github/workflows/release.yml@refs/tags/v1.0.0';

let counter = 0;
async function signed() {
  const img = buildImage();
  const repo = `cli-sigstore/app-${++counter}`;
  await pushImage(front, repo, 'v1', img);
  const bundle = bundleReferrer(await sigstore.bundle({ digest: img.digest, identity: { issuer: GITHUB, subject: RELEASE } }), img);
  await pushImage(front, repo, undefined, bundle);
  return { img, repo, bundle };
}

describe('copy command: Sigstore verification', () => {
  test('--verify-issuer with --verify-identity copies an image whose bundle that identity signed', async () => {
    const { img, repo, bundle } = await signed();

    const r = await run([`${front.host}/${repo}:v1`, `${plain.host}/${repo}-copy`,
      '--verify-issuer', GITHUB, '--verify-identity', RELEASE, '--verify-trusted-root', rootFile, '--json']);

    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).signatures).toMatchObject({ verified: true, signature: { manifest: bundle.digest } });
    await expectImage(plain, `${repo}-copy`, 'v1', img);
  });

  test('--verify-identity-regexp must match the whole subject: a prefix fails with exit 1 and writes no tag', async () => {
    const { img, repo } = await signed();

    const r = await run([`${front.host}/${repo}:v1`, `${plain.host}/${repo}-copy`,
      '--verify-issuer', GITHUB, '--verify-identity-regexp', 'https://github\\.com/vendor/app/', '--verify-trusted-root', rootFile]);

    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[UNVERIFIED]');
    expect(r.stderr).toContain(img.digest);
    expect(r.stderr).toContain(`signed by issuer ${GITHUB}, subject ${RELEASE}, not an identity of the policy`);
    expect(await listTags(plain, `${repo}-copy`)).toEqual([]);
  });

  test('without --verify-trusted-root, a bundle of another Sigstore than the public-good one does not verify', async () => {
    const { repo } = await signed();

    const r = await run([`${front.host}/${repo}:v1`, `${plain.host}/${repo}-copy`, '--verify-issuer', GITHUB, '--verify-identity', RELEASE]);

    expect(r.code).toBe(1);
    expect(r.stderr).toContain('a bundle that does not verify');
  });

  test.each([
    ['--verify-identity without --verify-issuer', () => ['--verify-identity', RELEASE], 'need --verify-issuer URL'],
    ['--verify-issuer without an identity', () => ['--verify-issuer', GITHUB], '--verify-issuer needs --verify-identity SUBJECT'],
    ['an issuer that is not https', () => ['--verify-issuer', 'http://issuer.example', '--verify-identity', RELEASE], 'is not allowed: an https URL'],
    ['a regular expression that does not compile', () => ['--verify-issuer', GITHUB, '--verify-identity-regexp', '('], 'does not compile'],
    ['a trusted root file that is no trusted root', () => {
      const file = path.join(dir, 'junk.json');
      fs.writeFileSync(file, '{"mediaType":"text/plain"}');
      return ['--verify-issuer', GITHUB, '--verify-identity', RELEASE, '--verify-trusted-root', file];
    }, 'is not a Sigstore trusted root'],
  ])('fails with a usage error (exit 2) for %s', async (_name, args, message) => {
    const r = await run([`${plain.host}/a:v1`, `${plain.host}/b`, ...args()]);

    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
