import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyImage, CopyResult } from '../../src/sync';
import {
  allBlobs, buildArtifact, buildImage, buildIndex, BuiltImage, expectImage, MEDIA_TYPES, pushImage,
} from '../support/images';
import { requireTool, startRegistry, stopAll, TestRegistry } from '../support/registry';

/**
 * skopeo (containers/image, the same engine as cdk-ecr-deployment's Lambda) reads back what the
 * copy engine wrote: `skopeo inspect` sees the same bytes, and `skopeo copy` to an `oci:` layout,
 * which verifies every digest it reads, succeeds.
 */

interface Run {
  stdout: string;
  stderr: string;
}

/** Runs skopeo asynchronously: the token server and registries must keep answering meanwhile. */
function skopeo(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`fails: skopeo ${args.filter((a) => !a.includes(':pw-')).join(' ')}: ${stderr.trim() || error.message}`));
      else resolve({ stdout, stderr });
    });
  });
}


let source: TestRegistry;
let destination: TestRegistry;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-skopeo-'));

beforeAll(async () => {
  try {
    requireTool('skopeo');
  } catch (e) {
    throw new Error(`${(e as Error).message} (skopeo is the reference client these tests check the engine's output with)`);
  }
  [source, destination] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })]);
});

afterAll(async () => {
  await stopAll();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const creds = (reg: TestRegistry) => `${reg.username}:${reg.password}`;

/** Pushes `img` to the source and copies it with the engine; returns the result and the skopeo reference of the copy. */
async function engineCopyWith(img: BuiltImage, repo: string, platforms?: string[]): Promise<{ result: CopyResult; ref: string }> {
  await pushImage(source, `src/${repo}`, 'v1', img);
  const result = await copyImage({
    source: `${source.host}/src/${repo}:v1`,
    destination: `${destination.host}/dst/${repo}:v1`,
    sourceCredentials: source.credentials(),
    destinationCredentials: destination.credentials(),
    platforms,
  });
  expect(result.complete).toBe(true);
  return { result, ref: `docker://${destination.host}/dst/${repo}:v1` };
}

/** Copies the whole image; the destination must hold the source digest. */
async function engineCopy(img: BuiltImage, repo: string): Promise<string> {
  const { result, ref } = await engineCopyWith(img, repo);
  expect(result.digest).toBe(img.digest);
  return ref;
}

function layersOf(img: BuiltImage): string[] {
  return (JSON.parse(img.manifest.toString('utf8')).layers ?? []).map((l: { digest: string }) => l.digest);
}

function configOf(img: BuiltImage): Buffer {
  return img.blobs.get(JSON.parse(img.manifest.toString('utf8')).config.digest)!;
}

/** Every blob file of an OCI layout must hash to its name; returns the digests found. */
function verifyLayout(dir: string): Set<string> {
  const blobDir = path.join(dir, 'blobs', 'sha256');
  const found = new Set<string>();
  for (const name of fs.readdirSync(blobDir)) {
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(blobDir, name))).digest('hex');
    expect(`${name} ${actual === name ? 'verified' : `hashes to ${actual}`}`).toBe(`${name} verified`);
    found.add(`sha256:${name}`);
  }
  return found;
}

const kinds: [string, () => BuiltImage, { oci: boolean; artifact: boolean }][] = [
  ['an OCI image', () => buildImage({ layers: [1000, 300_000, 5] }), { oci: true, artifact: false }],
  ['a Docker image', () => buildImage({ format: 'docker', layers: [200_000, 3000] }), { oci: false, artifact: false }],
  ['an OCI index', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8'], layers: [50_000] }), { oci: true, artifact: false }],
  ['a Docker manifest list', () => buildIndex({ platforms: ['linux/arm/v7', 'linux/amd64'], format: 'docker' }), { oci: false, artifact: false }],
  ['an OCI index with attestations', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], attestations: true }), { oci: true, artifact: false }],
  ['a Helm chart', () => buildArtifact({ kind: 'helm' }), { oci: true, artifact: true }],
  ['an SBOM artifact with a subject', () => buildArtifact({ kind: 'sbom', subject: buildImage() }), { oci: true, artifact: true }],
];

describe('skopeo reads what the engine wrote', () => {
  test.each(kinds)('skopeo inspect sees %s byte for byte', async (name, build, { artifact }) => {
    const img = build();
    const ref = await engineCopy(img, `inspect-${slug(name)}`);
    const raw = await skopeo(['inspect', '--tls-verify=false', '--creds', creds(destination), '--raw', ref]);
    expect(raw.stdout).toBe(img.manifest.toString('utf8'));
    if (artifact) return; // skopeo 1.9 inspects artifacts only with --raw ("unsupported image-specific operation")

    // The amd64 image, resolved through the index when there is one.
    const platformImage = img.children.find((c) => c.platform === 'linux/amd64') ?? img;
    const args = ['--tls-verify=false', '--creds', creds(destination), '--override-os', 'linux', '--override-arch', 'amd64'];
    const inspected = JSON.parse((await skopeo(['inspect', ...args, ref])).stdout);
    // Digest is the tag's own manifest (the index, for an index); the rest describes the amd64 image.
    expect(inspected).toEqual(expect.objectContaining({
      Digest: img.digest,
      RepoTags: ['v1'],
      Architecture: 'amd64',
      Os: 'linux',
      Layers: layersOf(platformImage),
    }));
    const config = await skopeo(['inspect', ...args, '--config', '--raw', ref]);
    expect(Buffer.from(config.stdout, 'utf8').equals(configOf(platformImage))).toBe(true);
  });

  test.each(kinds)('skopeo copy of %s to an oci: layout succeeds with every digest verified', async (name, build, { oci }) => {
    const img = build();
    const ref = await engineCopy(img, `copy-${slug(name)}`);
    const dir = path.join(scratch, `layout-${slug(name)}`);
    // Docker formats must be converted to enter an OCI layout; OCI ones must keep their digests.
    const preserve = oci ? ['--preserve-digests'] : [];
    await skopeo(['copy', '--all', ...preserve, '--src-tls-verify=false', '--src-creds', creds(destination), ref, `oci:${dir}:v1`]);

    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('v1');
    const found = verifyLayout(dir);
    if (oci) {
      expect(index.manifests[0].digest).toBe(img.digest);
      expect(index.manifests[0].mediaType).toBe(img.mediaType);
      for (const manifest of [img, ...img.children]) expect(found).toContain(manifest.digest);
    } else {
      expect(index.manifests[0].mediaType).toBe(img.children.length > 0 ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
    }
    // Layers pass through untouched (configs too for OCI), whatever the manifest format.
    for (const [digest, data] of allBlobs(img)) {
      const isLayer = [img, ...img.children].some((m) => layersOf(m).includes(digest));
      if (!isLayer && !oci) continue;
      expect(found).toContain(digest);
      expect(fs.readFileSync(path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length))).equals(data)).toBe(true);
    }
  });
});

describe('skopeo reads the index the engine writes for a platform subset', () => {
  test.each([['an OCI index', 'oci', false], ['a Docker manifest list', 'docker', false], ['an OCI index with attestations', 'oci', true]] as const)(
    '%s filtered to one platform inspects, resolves and copies with digests verified', async (name, format, attestations) => {
      const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'], format, layers: [30_000], attestations });
      const amd64 = img.children.find((c) => c.platform === 'linux/amd64')!;
      const repo = `subset-${slug(name)}`;
      const { result, ref } = await engineCopyWith(img, repo, ['linux/amd64']);
      expect(result.sourceDigest).toBe(img.digest);
      expect(result.digest).not.toBe(img.digest);

      const raw = (await skopeo(['inspect', '--tls-verify=false', '--creds', creds(destination), '--raw', ref])).stdout;
      expect(`sha256:${crypto.createHash('sha256').update(raw).digest('hex')}`).toBe(result.digest);
      const written = JSON.parse(raw);
      const original = JSON.parse(img.manifest.toString('utf8'));
      expect(written.mediaType).toBe(img.mediaType);
      // The amd64 image, and its attestation when there is one.
      const kept = original.manifests.filter((m: { digest: string; annotations?: Record<string, string> }) =>
        m.digest === amd64.digest || m.annotations?.['vnd.docker.reference.digest'] === amd64.digest);
      expect(kept).toHaveLength(attestations ? 2 : 1);
      expect(written.manifests).toEqual(kept);

      const inspected = JSON.parse((await skopeo(['inspect', '--tls-verify=false', '--creds', creds(destination),
        '--override-os', 'linux', '--override-arch', 'amd64', ref])).stdout);
      expect(inspected).toEqual(expect.objectContaining({ Digest: result.digest, Layers: layersOf(amd64) }));

      const dir = path.join(scratch, `layout-subset-${slug(name)}`);
      const preserve = format === 'oci' ? ['--preserve-digests'] : [];
      await skopeo(['copy', '--all', ...preserve, '--src-tls-verify=false', '--src-creds', creds(destination), ref, `oci:${dir}:v1`]);
      const found = verifyLayout(dir);
      if (format === 'oci') {
        expect(JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).manifests[0].digest).toBe(result.digest);
        expect(found).toContain(amd64.digest);
      }
      for (const layer of layersOf(amd64)) expect(found).toContain(layer);
    });
});

describe('the engine reads what skopeo wrote', () => {
  test('copies an image pushed by skopeo byte for byte, and a re-copy moves no blob bytes', async () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8'], layers: [40_000, 70_000] });
    const layout = path.join(scratch, 'from-skopeo');
    // Stage the image in an OCI layout with skopeo, then let skopeo push it to the source registry.
    await pushImage(destination, 'staging/app', 'v1', img);
    await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-creds', creds(destination),
      `docker://${destination.host}/staging/app:v1`, `oci:${layout}:v1`]);
    await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds(source),
      `oci:${layout}:v1`, `docker://${source.host}/pushed/by-skopeo:v1`]);

    const options = {
      source: `${source.host}/pushed/by-skopeo:v1`,
      destination: `${destination.host}/copied/by-engine:v1`,
      sourceCredentials: source.credentials(),
      destinationCredentials: destination.credentials(),
    };
    const first = await copyImage(options);
    expect(first.digest).toBe(img.digest);
    expect(first.platforms.sort()).toEqual(['linux/amd64', 'linux/arm64/v8']);
    await expectImage(destination, 'copied/by-engine', 'v1', img);
    const again = await copyImage(options);
    expect(again).toEqual(expect.objectContaining({ complete: true, digest: img.digest, bytesCopied: 0, blobsCopied: 0 }));
  });
});

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
