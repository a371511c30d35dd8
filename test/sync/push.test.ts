import * as path from 'path';
import { bundleDirectory } from '../../src/artifacts/bundle';
import { chartArtifact, packChartDirectory } from '../../src/artifacts/chart';
import { artifactOf, goJson } from '../../src/artifacts/oci';
import { CopyError } from '../../src/sync';
import { pushArtifact } from '../../src/sync/push';
import { pullChartLikeHelm } from '../support/helm';
import { listTags, readBlob, readManifest } from '../support/images';
import { registriesForSuite } from '../support/suite-registries';

const [plain, basic] = registriesForSuite({}, { auth: 'basic' });

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'charts', 'web');

describe('pushArtifact', () => {
  test('pushes a chart that helm\'s pull checks accept, under the version tag', async () => {
    const artifact = chartArtifact(packChartDirectory(FIXTURE));
    const result = await pushArtifact({ artifact, destination: `${basic.host}/charts/web`, credentials: basic.credentials() });
    expect(result).toMatchObject({
      complete: true,
      digest: artifact.digest,
      tag: '1.2.3_build.7',
      blobsPushed: 2,
      blobsSkipped: 0,
      alreadyPresent: false,
      reference: `${basic.host}/charts/web@${artifact.digest}`,
    });
    const pulled = await pullChartLikeHelm(basic, 'charts/web', '1.2.3_build.7');
    expect(pulled.digest).toBe(artifact.digest);
    expect(pulled.manifestBytes.equals(artifact.manifest)).toBe(true);
    expect(pulled.config).toMatchObject({ name: 'web', version: '1.2.3+build.7', apiVersion: 'v2' });
    expect([...pulled.files.keys()]).toContain('web/charts/sub/templates/configmap.yaml');
  });

  test('writes nothing when the tag already holds the digest (an immutable repository refuses a re-put)', async () => {
    const artifact = chartArtifact(packChartDirectory(FIXTURE));
    await pushArtifact({ artifact, destination: `${plain.host}/again/web` });
    const second = await pushArtifact({ artifact, destination: `${plain.host}/again/web` });
    expect(second).toMatchObject({ alreadyPresent: true, blobsPushed: 0, bytesPushed: 0, digest: artifact.digest });
  });

  test('skips blobs the destination holds and moves the tag to the new digest', async () => {
    const chart = packChartDirectory(FIXTURE);
    await pushArtifact({ artifact: chartArtifact(chart), destination: `${plain.host}/moved/web:stable` });
    const later = chartArtifact(chart, { created: '2026-05-01T00:00:00Z' });
    const result = await pushArtifact({ artifact: later, destination: `${plain.host}/moved/web:stable` });
    // Only the manifest changed: config and chart layer are the same blobs.
    expect(result).toMatchObject({ blobsPushed: 0, blobsSkipped: 2, alreadyPresent: false, tag: 'stable' });
    await expect(pullChartLikeHelm(plain, 'moved/web', '1.2.3_build.7')).rejects.toThrow(/not found/);
    expect(await listTags(plain, 'moved/web')).toEqual(['stable']);
  });

  test('fails before any upload when the artifact lacks a blob its manifest names', async () => {
    const config = goJson({ a: 1 });
    const manifest = goJson({
      schemaVersion: 2,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
      layers: [],
    });
    const broken = artifactOf(manifest, [config], 'v1');
    await expect(pushArtifact({ artifact: broken, destination: `${plain.host}/broken/x` })).rejects.toThrow(/names blob\(s\) it does not carry: sha256:0{64}; nothing was pushed/);
    expect(await listTags(plain, 'broken/x')).toEqual([]);
  });

  test('fails on wrong credentials with the registry\'s answer, never the password', async () => {
    const artifact = chartArtifact(packChartDirectory(FIXTURE));
    const err = await pushArtifact({
      artifact, destination: `${basic.host}/denied/web`, credentials: async () => ({ username: 'x', password: 'wrong-pass-9876' }),
    }).catch(e => e as CopyError);
    expect(err).toBeInstanceOf(CopyError);
    expect((err as CopyError).code).toBe('UNAUTHORIZED');
    expect((err as Error).message).not.toContain('wrong-pass-9876');
  });

  test('pushes a file bundle in ORAS\'s layout with its artifactType, the same digest from a second push', async () => {
    const dir = path.join(__dirname, '..', 'fixtures', 'bundles', 'network');
    const options = { artifactType: 'application/vnd.acme.terraform.module.v1', tag: '2.0.0', exclude: ['.terraform/'] };
    const first = await pushArtifact({ artifact: bundleDirectory(dir, options), destination: `${plain.host}/modules/network` });
    const second = await pushArtifact({ artifact: bundleDirectory(dir, options), destination: `${plain.host}/modules/network-copy` });
    expect(second.digest).toBe(first.digest);
    expect(first).toMatchObject({ blobsPushed: 4, tag: '2.0.0' });
    const held = await readManifest(plain, 'modules/network', '2.0.0');
    expect(held?.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const manifest = JSON.parse(held!.body.toString());
    expect(manifest.artifactType).toBe('application/vnd.acme.terraform.module.v1');
    const main = manifest.layers.find((l: any) => l.annotations['org.opencontainers.image.title'] === 'main.tf');
    expect((await readBlob(plain, 'modules/network', main.digest))!.toString()).toContain('module "vpc"');
  });

  test('fails on a destination that names a digest', async () => {
    const artifact = chartArtifact(packChartDirectory(FIXTURE));
    await expect(pushArtifact({ artifact, destination: `${plain.host}/d/web@sha256:${'a'.repeat(64)}` })).rejects.toThrow(/must not name a digest/);
  });
});
