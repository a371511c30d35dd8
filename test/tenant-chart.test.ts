import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV, identityStatements, newStack } from './support/tenant';
import { chartArtifact, packChartDirectory } from '../src/artifacts/chart';
import { readOciArchive } from '../src/artifacts/oci-archive';
import { ImageSource } from '../src/image-source';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncProvider } from '../src/image-sync-provider';
import { TenantChart } from '../src/tenant-chart';
import { TenantRepository } from '../src/tenant-repository';

const CHART = path.join(__dirname, 'fixtures', 'charts', 'web');
const CHART_DIGEST = chartArtifact(packChartDirectory(CHART)).digest;

/** A stack with the fixture chart added to a tenant repository, and its synthesized files. */
function synthChart(directory = CHART) {
  const app = new App();
  const stack = new Stack(app, 'Tenant', { env: ENV });
  const repo = new TenantRepository(stack, 'Charts', { repositoryName: 'acme/web' });
  const chart = repo.addChart('Web', { directory, releaseId: 'r-7' });
  const template = Template.fromStack(stack);
  const assembly = app.synth();
  const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Tenant.assets.json'), 'utf8'));
  return { stack, chart, template, assembly, assets };
}

describe('TenantChart', () => {
  test('renders a Custom::ImageSync from the archive asset into the tenant repository, under the chart version, pinned to the synth digest', () => {
    const { stack, chart, template } = synthChart();

    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'OciArchive',
      SourceImage: Match.absent(),
      SourceBucket: stack.resolve(chart.asset.s3BucketName),
      SourceObjectKey: chart.asset.s3ObjectKey,
      ExpectedSourceDigest: CHART_DIGEST,
      DestinationRepositoryName: { Ref: Match.stringLikeRegexp('^Charts') },
      DestinationTag: '1.2.3_build.7',
      ReleaseId: 'r-7',
      RemoveOnDelete: 'false',
    });
    expect(chart.asset.s3ObjectKey).toMatch(/^[a-f0-9]{64}\.tar$/);
    expect(chart.imageTag).toBe('1.2.3_build.7');
    expect(chart.chartName).toBe('web');
    expect(chart.chartVersion).toBe('1.2.3+build.7');
  });

  test('exposes the digest from the custom resource, and the chart as Helm names it', () => {
    const { stack, chart } = synthChart();
    const logicalId = stack.getLogicalId(chart.resource.node.defaultChild as CfnResource);
    const digest = { 'Fn::GetAtt': [logicalId, 'ImageDigest'] };
    const uri = chart.repositoryUri;
    const joined = (...parts: string[]) => stack.resolve(Fn.join('', parts));
    expect(stack.resolve(chart.imageDigest)).toEqual(digest);
    expect(stack.resolve(chart.chartRepositoryUrl)).toEqual(joined('oci://', uri));
    expect(JSON.stringify(stack.resolve(chart.chartRepositoryUrl))).toContain('"oci://"');
    expect(stack.resolve(chart.chartReference)).toEqual(joined('oci://', uri, '@', chart.imageDigest));
    expect(stack.resolve(chart.imageUri)).toEqual(joined(uri, '@', chart.imageDigest));
  });

  test('stages the archive as a file asset uploaded as it is, an oci-archive of the digest the resource expects', () => {
    const { chart, assembly, assets } = synthChart();
    const entry = Object.values(assets.files as { [hash: string]: any }).find(f => f.source.path.endsWith('.tar'));
    expect(entry.source.packaging).toBe('file');
    expect(entry.destinations[Object.keys(entry.destinations)[0]].objectKey).toBe(chart.asset.s3ObjectKey);
    const bytes = fs.readFileSync(path.join(assembly.directory, entry.source.path));
    const artifact = readOciArchive(bytes, CHART_DIGEST);
    expect(artifact.tag).toBe('1.2.3_build.7');
  });

  test('gives the same digest and the same asset across two synths of the same directory', () => {
    const first = synthChart();
    const second = synthChart();
    const props = (s: ReturnType<typeof synthChart>) => Object.values(s.template.findResources(IMAGE_SYNC_RESOURCE_TYPE))[0].Properties;
    expect(props(first).ExpectedSourceDigest).toBe(CHART_DIGEST);
    expect(props(second).ExpectedSourceDigest).toBe(CHART_DIGEST);
    expect(props(second).SourceObjectKey).toBe(props(first).SourceObjectKey);
  });

  test('grants the sync function s3:GetObject on the archive object only, and push on the tenant repository', () => {
    const { stack, chart, template } = synthChart();
    const s3 = identityStatements(template).filter(s => JSON.stringify(s.Action).includes('s3:'));
    expect(s3).toEqual([{
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: stack.resolve(chart.asset.bucket.arnForObjects(chart.asset.s3ObjectKey)),
    }]);
    expect(JSON.stringify(s3[0].Resource)).toContain(`/${chart.asset.s3ObjectKey}`);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['ecr:PutImage']), Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Charts'), 'Arn'] } }),
        ]),
      },
    });
  });

  test('takes a packaged chart (.tgz) with its bytes unchanged and the provenance file beside it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenant-chart-'));
    const tgz = path.join(dir, 'web-1.2.3+build.7.tgz');
    const packed = packChartDirectory(CHART);
    fs.writeFileSync(tgz, packed.archive);
    fs.writeFileSync(`${tgz}.prov`, 'signed');
    const { template } = synthChart(tgz);
    const expected = chartArtifact(packed, { prov: Buffer.from('signed') }).digest;
    expect(expected).not.toBe(CHART_DIGEST);
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { ExpectedSourceDigest: expected, DestinationTag: '1.2.3_build.7' });
  });

  test('passes the cdk-nag AwsSolutions checks with its own acknowledgements', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Charts').addChart('Web', { directory: CHART });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
  });

  test('fails on a directory that is no chart, naming the prop, the value and what Helm would say', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Charts');
    const missing = path.join(os.tmpdir(), 'no-such-chart-dir');
    expect(() => repo.addChart('Web', { directory: missing })).toThrow(
      `Invalid TenantChart props:\n  - directory: ${JSON.stringify(missing)} is not allowed: a chart Helm would load (${missing}: no such chart directory or .tgz)`);
    const noChart = fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-chart-'));
    expect(() => repo.addChart('Other', { directory: noChart })).toThrow('Chart.yaml is missing; a chart directory has a Chart.yaml at its top');
  });

  test('fails on a chart version another image of the repository already has as a tag', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Charts');
    repo.importImage('Pinned', { source: ImageSource.fromRegistry('docker.io/library/nginx:1.27'), tag: '1.2.3_build.7' });
    expect(() => repo.addChart('Web', { directory: CHART }))
      .toThrow('Invalid TenantChart props:\n  - tag: "1.2.3_build.7" is not allowed: a tag no other image of this repository uses (image "Pinned" has it');
  });

  test('fails on a provider of another stack and a timeout over an hour, listing both', () => {
    const app = new App();
    const stack = new Stack(app, 'Tenant', { env: ENV });
    const other = new Stack(app, 'Other', { env: ENV });
    const repo = new TenantRepository(stack, 'Charts');
    expect(() => new TenantChart(stack, 'Web', {
      repository: repo, directory: CHART, provider: ImageSyncProvider.of(other), totalTimeout: Duration.hours(2),
    })).toThrow(/Invalid TenantChart props:\n {2}- totalTimeout: "7200 seconds" is not allowed[\s\S]*- provider: "Other\/[^"]+" is not allowed: a provider of this TenantChart's stack Tenant/);
  });
});
