import * as path from 'path';
import { chartArtifact, packChartDirectory } from '../../src/artifacts/chart';
import { artifactOf, goJson, sha256 } from '../../src/artifacts/oci';
import { OciArchiveError, readOciArchive, writeOciArchive } from '../../src/artifacts/oci-archive';
import { readTarArchive, writeTar } from '../../src/artifacts/tar';

const CHART = path.join(__dirname, '..', 'fixtures', 'charts', 'web');

function sample() {
  const config = Buffer.from('{}');
  const layer = Buffer.from('layer bytes');
  const manifest = goJson({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
  });
  return artifactOf(manifest, [config, layer], '1.0.0');
}

/** The archive with one file's bytes replaced. */
function replaced(archive: Buffer, name: string, data: Buffer): Buffer {
  const entries = readTarArchive(archive, { maxBytes: archive.length, maxEntries: 100 });
  return writeTar(entries.map(e => (e.name === name ? { name, data } : { name: e.name, data: e.data })));
}

describe('writeOciArchive', () => {
  test('writes the OCI image layout as one tar: oci-layout, index.json, then the blobs and the manifest', () => {
    const artifact = sample();
    const archive = writeOciArchive(artifact);
    const names = readTarArchive(archive, { maxBytes: archive.length, maxEntries: 100 }).map(e => e.name);
    expect(names).toEqual([
      'oci-layout',
      'index.json',
      ...[...artifact.blobs.keys()].sort().map(d => `blobs/sha256/${d.slice(7)}`),
      `blobs/sha256/${artifact.digest.slice(7)}`,
    ]);
  });

  test('gives the same bytes for the same chart directory packed twice', () => {
    const first = writeOciArchive(chartArtifact(packChartDirectory(CHART)));
    const second = writeOciArchive(chartArtifact(packChartDirectory(CHART)));
    expect(sha256(first)).toBe(sha256(second));
  });
});

describe('readOciArchive', () => {
  test('reads back the artifact with the expected digest, every blob and the tag', () => {
    const artifact = sample();
    const read = readOciArchive(writeOciArchive(artifact), artifact.digest);
    expect(read.digest).toBe(artifact.digest);
    expect(read.manifest.equals(artifact.manifest)).toBe(true);
    expect([...read.blobs.keys()].sort()).toEqual([...artifact.blobs.keys()].sort());
    expect(read.tag).toBe('1.0.0');
  });

  test('fails on a blob whose bytes do not match its digest', () => {
    const artifact = sample();
    const layerDigest = sha256(Buffer.from('layer bytes'));
    const tampered = replaced(writeOciArchive(artifact), `blobs/sha256/${layerDigest.slice(7)}`, Buffer.from('layer bytez'));
    expect(() => readOciArchive(tampered, artifact.digest)).toThrow(
      `layer 1 ${layerDigest} does not match its bytes, which hash to ${sha256(Buffer.from('layer bytez'))}`);
  });

  test('fails when the index does not name the expected manifest', () => {
    const artifact = sample();
    const other = `sha256:${'0'.repeat(64)}`;
    expect(() => readOciArchive(writeOciArchive(artifact), other)).toThrow(`index.json does not name the manifest ${other} (it names ${artifact.digest})`);
  });

  test('fails on an archive over the size limit before reading it', () => {
    const artifact = sample();
    const archive = writeOciArchive(artifact);
    expect(() => readOciArchive(archive, artifact.digest, { maxBytes: 1024 })).toThrow(OciArchiveError);
    expect(() => readOciArchive(archive, artifact.digest, { maxBytes: 1024 })).toThrow(`not an oci-archive: ${archive.length} bytes, more than the 1024 allowed`);
  });

  test('fails on bytes that are not a tar archive', () => {
    expect(() => readOciArchive(Buffer.alloc(1024, 7), sample().digest)).toThrow(/^not an oci-archive: not a tar archive/);
  });

  test('fails on a missing oci-layout file', () => {
    const artifact = sample();
    const entries = readTarArchive(writeOciArchive(artifact), { maxBytes: 1024 * 1024, maxEntries: 100 }).filter(e => e.name !== 'oci-layout');
    expect(() => readOciArchive(writeTar(entries), artifact.digest)).toThrow('oci-layout is missing');
  });
});
