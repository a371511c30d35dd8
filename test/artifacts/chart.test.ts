import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  HELM_CHART_MEDIA_TYPE, HELM_CONFIG_MEDIA_TYPE, HELM_PROV_MEDIA_TYPE, chartArtifact, chartTag, normalizeCreated,
  packChartDirectory, readChartArchive,
} from '../../src/artifacts/chart';
import { gzip, writeTar } from '../../src/artifacts/tar';
import { tarHeaders, untar } from '../support/helm';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'charts', 'web');

function tempCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-'));
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

describe('packChartDirectory', () => {
  test('packs every file Helm loads under <name>/, leaving out what .helmignore and Helm\'s default rule ignore', () => {
    const chart = packChartDirectory(FIXTURE);
    const files = untar(zlib.gunzipSync(chart.archive));
    expect([...files.keys()]).toEqual([
      'web/.helmignore',
      'web/Chart.yaml',
      'web/charts/sub/Chart.yaml',
      'web/charts/sub/templates/configmap.yaml',
      'web/charts/sub/values.yaml',
      'web/templates/_helpers.tpl',
      'web/templates/deployment.yaml',
      'web/values.yaml',
    ]);
    expect(files.get('web/values.yaml')!.equals(fs.readFileSync(path.join(FIXTURE, 'values.yaml')))).toBe(true);
  });

  test('writes fixed modes, owners and times whatever the files\' own', () => {
    const dir = tempCopy();
    fs.chmodSync(path.join(dir, 'values.yaml'), 0o755);
    fs.utimesSync(path.join(dir, 'Chart.yaml'), new Date('2030-01-01'), new Date('2030-01-01'));
    const headers = tarHeaders(zlib.gunzipSync(packChartDirectory(dir).archive));
    expect(new Set(headers.map(h => `${h.mode.toString(8)} ${h.uid} ${h.gid} ${h.mtime} ${h.uname}${h.gname}`))).toEqual(new Set(['644 0 0 0 ']));
  });

  test('gives the same digest for the same directory, in another place, with other times and modes', () => {
    const first = chartArtifact(packChartDirectory(FIXTURE));
    const dir = tempCopy();
    for (const f of ['Chart.yaml', 'values.yaml', 'templates/deployment.yaml']) {
      fs.utimesSync(path.join(dir, f), new Date(), new Date(Date.now() - 86_400_000));
      fs.chmodSync(path.join(dir, f), 0o600);
    }
    expect(chartArtifact(packChartDirectory(dir)).digest).toBe(first.digest);
    expect(chartArtifact(packChartDirectory(FIXTURE)).manifest.equals(first.manifest)).toBe(true);
  });

  test('gives another digest when a file changes, or an ignored file stops being ignored', () => {
    const base = chartArtifact(packChartDirectory(FIXTURE)).digest;
    const edited = tempCopy();
    fs.appendFileSync(path.join(edited, 'values.yaml'), 'extra: 1\n');
    expect(chartArtifact(packChartDirectory(edited)).digest).not.toBe(base);
    const unignored = tempCopy();
    fs.writeFileSync(path.join(unignored, '.helmignore'), '*.bak\n');
    const chart = packChartDirectory(unignored);
    expect(chart.files).toEqual(expect.arrayContaining(['secrets/key.pem', 'ci/pipeline.yaml', '.helmignore']));
    expect(chart.files).not.toContain('values.yaml.bak');
  });

  test('reads a v1 chart\'s requirements.yaml into the metadata, as Helm\'s loader does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-v1-'));
    fs.writeFileSync(path.join(dir, 'Chart.yaml'), 'name: legacy\nversion: 0.9.0\n');
    fs.writeFileSync(path.join(dir, 'requirements.yaml'), 'dependencies:\n- name: db\n  version: 1.x\n  repository: https://charts.example.com\n');
    const chart = packChartDirectory(dir);
    expect(chart.metadata).toEqual({
      name: 'legacy', version: '0.9.0', apiVersion: 'v1', dependencies: [{ name: 'db', version: '1.x', repository: 'https://charts.example.com' }],
    });
    expect(readChartArchive(chart.archive).metadata).toEqual(chart.metadata);
  });

  test('follows symbolic links as Helm\'s loader does', () => {
    const dir = tempCopy();
    fs.symlinkSync(path.join(dir, 'values.yaml'), path.join(dir, 'templates', 'linked.yaml'));
    const files = untar(zlib.gunzipSync(packChartDirectory(dir).archive));
    expect(files.get('web/templates/linked.yaml')!.toString()).toContain('replicaCount: 2');
  });

  test.each([
    ['no Chart.yaml', (dir: string) => fs.rmSync(path.join(dir, 'Chart.yaml')), /Chart\.yaml is missing/],
    ['a file over Helm\'s 5 MiB per file', (dir: string) => {
      fs.writeFileSync(path.join(dir, 'big.bin'), '');
      fs.truncateSync(path.join(dir, 'big.bin'), 6 * 1024 * 1024);
    }, /big\.bin: 6291456 bytes, more than Helm's 5242880/],
    ['a symbolic link to nothing', (dir: string) => fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling')), /dangling: a symbolic link to nothing/],
    ['a .helmignore with **', (dir: string) => fs.writeFileSync(path.join(dir, '.helmignore'), 'a/**\n'), /\.helmignore line 1: "a\/\*\*": double-star/],
    ['a .helmignore that leaves out Chart.yaml', (dir: string) => fs.writeFileSync(path.join(dir, '.helmignore'), '*.yaml\n'), /leaves out Chart\.yaml/],
  ])('fails on %s, naming the file', (_name, breakIt, message) => {
    const dir = tempCopy();
    breakIt(dir);
    expect(() => packChartDirectory(dir)).toThrow(message);
  });
});

describe('chartArtifact', () => {
  const chart = packChartDirectory(FIXTURE);

  test('writes the config as helm does: Chart.yaml\'s fields in helm\'s order, sanitised, Go\'s escaping', () => {
    const artifact = chartArtifact(chart);
    const manifest = JSON.parse(artifact.manifest.toString());
    const config = artifact.blobs.get(manifest.config.digest)!.toString();
    expect(config).toBe('{"name":"web","home":"https://example.com/web","sources":["https://github.com/example/web","https://github.com/example/web-extra"],'
      + '"version":"1.2.3+build.7","description":"A small web service for the \\u003ctests\\u003e \\u0026 docs. ","keywords":["web","demo"],'
      + '"maintainers":[{"name":"Ops Team","email":"ops@example.com"},{"name":"Jane"}],"apiVersion":"v2","appVersion":"2.0",'
      + '"annotations":{"example.com/tier":"frontend","org.opencontainers.image.title":"overridden-title"},"kubeVersion":"\\u003e=1.27.0-0",'
      + '"dependencies":[{"name":"sub","version":"0.1.0","repository":"","condition":"sub.enabled"}],"type":"application"}');
  });

  test('writes the manifest helm push writes: Helm media types, one chart layer, helm\'s annotations, the version as tag', () => {
    const artifact = chartArtifact(chart);
    const manifest = JSON.parse(artifact.manifest.toString());
    expect(Object.keys(manifest)).toEqual(['schemaVersion', 'config', 'layers', 'annotations']);
    expect(manifest.config.mediaType).toBe(HELM_CONFIG_MEDIA_TYPE);
    expect(manifest.layers).toEqual([{ mediaType: HELM_CHART_MEDIA_TYPE, digest: expect.stringMatching(/^sha256:/), size: chart.archive.length }]);
    expect(artifact.blobs.get(manifest.layers[0].digest)!.equals(chart.archive)).toBe(true);
    expect(manifest.annotations).toEqual({
      'example.com/tier': 'frontend',
      'org.opencontainers.image.authors': 'Ops Team (ops@example.com), Jane',
      'org.opencontainers.image.created': '1970-01-01T00:00:00Z',
      'org.opencontainers.image.description': 'A small web service for the <tests> & docs. ',
      'org.opencontainers.image.source': 'https://github.com/example/web',
      'org.opencontainers.image.title': 'web',
      'org.opencontainers.image.url': 'https://example.com/web',
      'org.opencontainers.image.version': '1.2.3+build.7',
    });
    expect(artifact.tag).toBe('1.2.3_build.7');
    expect(artifact.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  test('adds the provenance layer, layers in digest order as helm sorts them', () => {
    const prov = Buffer.from('-----BEGIN PGP SIGNED MESSAGE-----\n');
    const manifest = JSON.parse(chartArtifact(chart, { prov }).manifest.toString());
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType).sort()).toEqual([HELM_CHART_MEDIA_TYPE, HELM_PROV_MEDIA_TYPE]);
    expect(manifest.layers[0].digest < manifest.layers[1].digest).toBe(true);
  });

  test('takes the created time, written as helm writes it (UTC, whole seconds)', () => {
    const manifest = JSON.parse(chartArtifact(chart, { created: '2026-03-04T06:06:07.123456789+01:00' }).manifest.toString());
    expect(manifest.annotations['org.opencontainers.image.created']).toBe('2026-03-04T05:06:07Z');
    expect(() => normalizeCreated('yesterday')).toThrow(/created "yesterday" is not an RFC 3339 time/);
  });

  test.each([['1.0.0', '1.0.0'], ['1.0.0+meta', '1.0.0_meta'], ['0.1.0-rc.1+a.b', '0.1.0-rc.1_a.b']])('tags version %s as %s', (version, tag) => {
    expect(chartTag(version)).toBe(tag);
  });
});

describe('readChartArchive', () => {
  const archive = gzip(writeTar([
    { name: 'demo/Chart.yaml', data: Buffer.from('name: demo\nversion: 0.3.0\n') },
    { name: 'demo/values.yaml', data: Buffer.from('a: 1\n') },
  ]));

  test('keeps the archive\'s bytes and reads its Chart.yaml (an empty apiVersion is v1, as Helm loads it)', () => {
    const chart = readChartArchive(archive);
    expect(chart.archive).toBe(archive);
    expect(chart.metadata).toEqual({ name: 'demo', version: '0.3.0', apiVersion: 'v1' });
    const manifest = JSON.parse(chartArtifact(chart).manifest.toString());
    expect(chartArtifact(chart).blobs.get(manifest.layers[0].digest)!.equals(archive)).toBe(true);
  });

  test.each([
    ['bytes that are not gzip', Buffer.from('not a chart'), /not a gzip file/],
    ['an archive without Chart.yaml', gzip(writeTar([{ name: 'demo/values.yaml', data: Buffer.from('a: 1') }])), /no <name>\/Chart\.yaml/],
    ['files under another name than the chart\'s', gzip(writeTar([{ name: 'other/Chart.yaml', data: Buffer.from('name: demo\nversion: 1.0.0') }])), /under "other\/" but Chart\.yaml names the chart "demo"/],
    ['a file outside the chart directory', gzip(writeTar([{ name: 'demo/Chart.yaml', data: Buffer.from('name: demo\nversion: 1.0.0') }, { name: 'x.txt', data: Buffer.from('') }])), /"x\.txt" is outside "demo\/"/],
  ])('fails on %s', (_name, bytes, message) => {
    expect(() => readChartArchive(bytes)).toThrow(message);
  });
});
