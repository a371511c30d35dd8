import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  BundleError, ORAS_ARCHIVE_MEDIA_TYPE, ORAS_CONTENT_DIGEST, ORAS_FILE_MEDIA_TYPE, ORAS_UNPACK, bundleArtifact, bundleDirectory,
} from '../../src/artifacts/bundle';
import { sha256 } from '../../src/artifacts/oci';
import { untar } from '../support/helm';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'bundles', 'network');
const TYPE = 'application/vnd.acme.terraform.module.v1';

describe('bundleDirectory', () => {
  test('writes ORAS\'s layout: artifactType, the empty config, one layer per file titled with its path', () => {
    const artifact = bundleDirectory(FIXTURE, { artifactType: TYPE, tag: '1.0.0', exclude: ['.terraform/'] });
    const manifest = JSON.parse(artifact.manifest.toString());
    expect(Object.keys(manifest)).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'annotations']);
    expect(manifest).toMatchObject({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: TYPE,
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2,
        data: 'e30=',
      },
      annotations: { 'org.opencontainers.image.created': '1970-01-01T00:00:00Z' },
    });
    expect(manifest.layers.map((l: any) => [l.mediaType, l.annotations['org.opencontainers.image.title']])).toEqual([
      [ORAS_FILE_MEDIA_TYPE, 'main.tf'],
      [ORAS_FILE_MEDIA_TYPE, 'modules/vpc/main.tf'],
      [ORAS_FILE_MEDIA_TYPE, 'variables.tf'],
    ]);
    for (const l of manifest.layers) {
      expect(artifact.blobs.get(l.digest)!.equals(fs.readFileSync(path.join(FIXTURE, l.annotations['org.opencontainers.image.title'])))).toBe(true);
    }
    expect(artifact.blobs.size).toBe(4);
  });

  test('packs the directory as one tar+gzip layer that oras pull unpacks', () => {
    const artifact = bundleDirectory(FIXTURE, { artifactType: TYPE, tag: '1.0.0', layout: 'archive', exclude: ['.terraform/'] });
    const manifest = JSON.parse(artifact.manifest.toString());
    expect(manifest.layers).toHaveLength(1);
    const layer = manifest.layers[0];
    const tar = zlib.gunzipSync(artifact.blobs.get(layer.digest)!);
    expect(layer.mediaType).toBe(ORAS_ARCHIVE_MEDIA_TYPE);
    expect(layer.annotations).toEqual({ [ORAS_CONTENT_DIGEST]: sha256(tar), [ORAS_UNPACK]: 'true', 'org.opencontainers.image.title': 'network' });
    expect([...untar(tar).keys()]).toEqual(['network/main.tf', 'network/modules/vpc/main.tf', 'network/variables.tf']);
  });

  test.each(['files', 'archive'] as const)('gives the same digest for the same files in another place with other times (%s)', (layout) => {
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-')), 'network');
    fs.cpSync(FIXTURE, copy, { recursive: true });
    fs.utimesSync(path.join(copy, 'main.tf'), new Date('2031-01-01'), new Date('2031-01-01'));
    fs.chmodSync(path.join(copy, 'variables.tf'), 0o700);
    const options = { artifactType: TYPE, tag: 'v1', layout, exclude: ['.terraform/'] };
    expect(bundleDirectory(copy, options).digest).toBe(bundleDirectory(FIXTURE, options).digest);
    fs.appendFileSync(path.join(copy, 'main.tf'), '\n');
    expect(bundleDirectory(copy, options).digest).not.toBe(bundleDirectory(FIXTURE, options).digest);
  });

  test('fails naming every problem with the artifact type and the tag', () => {
    expect(() => bundleDirectory(FIXTURE, { artifactType: 'terraform', tag: '-bad' })).toThrow(
      'artifactType "terraform" is not allowed: a media type such as application/vnd.acme.module.v1; tag "-bad" is not allowed: letters, digits, _ . - (not first), at most 128');
  });

  test('fails on a directory whose files are all excluded', () => {
    expect(() => bundleDirectory(FIXTURE, { artifactType: TYPE, tag: 'v1', exclude: ['*'] })).toThrow(/no files to bundle/);
  });
});

describe('bundleArtifact', () => {
  test('keeps the files\' order and media types', () => {
    const artifact = bundleArtifact([
      { name: 'b.json', data: Buffer.from('{}'), mediaType: 'application/json' },
      { name: 'a.txt', data: Buffer.from('a') },
    ], { artifactType: TYPE, tag: 'v1', created: '2026-01-01T00:00:00Z', annotations: { 'com.acme.team': 'net' } });
    const manifest = JSON.parse(artifact.manifest.toString());
    expect(manifest.layers.map((l: any) => l.mediaType)).toEqual(['application/json', ORAS_FILE_MEDIA_TYPE]);
    expect(manifest.annotations).toEqual({ 'com.acme.team': 'net', 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' });
  });

  test.each([
    [[], /at least one file/],
    [[{ name: '../x', data: Buffer.from('') }], /file name "\.\.\/x" is not allowed/],
    [[{ name: 'a', data: Buffer.from('') }, { name: 'a', data: Buffer.from('') }], /"a" is in the bundle twice/],
    [[{ name: 'a', data: Buffer.from(''), mediaType: 'text' }], /mediaType "text" of a is not a media type/],
  ])('fails on the files %#', (files, message) => {
    expect(() => bundleArtifact(files, { artifactType: TYPE, tag: 'v1' })).toThrow(message);
    expect(() => bundleArtifact(files, { artifactType: TYPE, tag: 'v1' })).toThrow(BundleError);
  });
});
