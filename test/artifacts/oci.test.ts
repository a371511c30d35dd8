import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { artifactOf, goJson, sha256, writeOciLayout } from '../../src/artifacts/oci';

describe('goJson', () => {
  test('writes JSON as Go\'s encoding/json does: no spaces, HTML characters and line separators escaped', () => {
    expect(goJson({ a: '<b> & c\u2028', n: 1 }).toString()).toBe('{"a":"\\u003cb\\u003e \\u0026 c\\u2028","n":1}');
  });
});

describe('writeOciLayout', () => {
  test('writes an OCI image layout that names the artifact with its tag, the same files for the same artifact', () => {
    const config = Buffer.from('{}');
    const layer = Buffer.from('layer');
    const manifest = goJson({ schemaVersion: 2, config: { digest: sha256(config) }, layers: [{ digest: sha256(layer) }] });
    const artifact = artifactOf(manifest, [config, layer], '1.0.0');
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'layout-')), 'out');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'stale'), 'x');
    writeOciLayout(artifact, dir);
    expect(fs.readFileSync(path.join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: artifact.digest,
      size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': '1.0.0' },
    }]);
    const blobs = fs.readdirSync(path.join(dir, 'blobs', 'sha256')).sort();
    expect(blobs).toEqual([artifact.digest, sha256(config), sha256(layer)].map(d => d.slice(7)).sort());
    expect(fs.existsSync(path.join(dir, 'stale'))).toBe(false);
    const again = path.join(path.dirname(dir), 'again');
    writeOciLayout(artifact, again);
    expect(fs.readFileSync(path.join(again, 'index.json')).equals(fs.readFileSync(path.join(dir, 'index.json')))).toBe(true);
  });
});
