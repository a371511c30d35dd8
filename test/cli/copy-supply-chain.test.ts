import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyCommand } from '../../src/cli/copy';
import { CommandRun, runCommand } from '../support/cli';
import { cosignKeyPair, cosignSignature, signatureTag } from '../support/cosign';
import { buildImage, expectImage, listTags, pushImage } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const [plain] = registriesForSuite({});
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-keys-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function run(argv: string[]): Promise<CommandRun> {
  return runCommand(copyCommand, argv);
}

const vendor = cosignKeyPair();
const stranger = cosignKeyPair();

function keyFile(name: string, pem: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, pem);
  return file;
}

let counter = 0;
async function signed() {
  const img = buildImage();
  const repo = `cli-signed/app-${++counter}`;
  await pushImage(plain, repo, 'v1', img);
  const sig = cosignSignature({ digest: img.digest, dockerReference: `${plain.host}/${repo}`, key: vendor.privateKey });
  await pushImage(plain, repo, signatureTag(img.digest), sig);
  return { img, repo, sig };
}

describe('copy command: supply chain', () => {
  test('--referrers copies the cosign signature tag with the image', async () => {
    const { img, repo, sig } = await signed();
    const r = await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-copy`, '--referrers', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).referrers).toMatchObject({ found: 1, copied: 1, cosignTags: [signatureTag(img.digest)] });
    await expectImage(plain, `${repo}-copy`, signatureTag(img.digest), sig);
  });

  test('--verify-key copies an image signed with one of the keys', async () => {
    const { img, repo } = await signed();
    const r = await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-copy`,
      '--verify-key', keyFile('stranger.pub', stranger.publicKeyPem), '--verify-key', keyFile('cosign.pub', vendor.publicKeyPem), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).signatures).toMatchObject({ verified: true });
    await expectImage(plain, `${repo}-copy`, 'v1', img);
  });

  test('fails with exit 1 and writes no tag when no signature verifies with the keys', async () => {
    const { img, repo } = await signed();
    const r = await run([`${plain.host}/${repo}:v1`, `${plain.host}/${repo}-copy`, '--verify-key', keyFile('other.pub', stranger.publicKeyPem)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[UNVERIFIED]');
    expect(r.stderr).toContain(img.digest);
    expect(await listTags(plain, `${repo}-copy`)).toEqual([]);
  });

  test.each([
    ['a file that does not exist', () => path.join(dir, 'missing.pub'), 'cannot be read (ENOENT)'],
    ['a file that is no public key', () => keyFile('junk.pub', 'junk'), 'is not a PEM public key'],
  ])('fails with a usage error (exit 2) for --verify-key naming %s', async (_name, file, message) => {
    const r = await run([`${plain.host}/a:v1`, `${plain.host}/b`, '--verify-key', file()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
