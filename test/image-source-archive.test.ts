import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import { AwsSolutionsChecks } from 'cdk-nag';
import { newStack, policyStatements, SHARED_ROLE_PREFIX } from './support/image-sync';
import { buildImage, buildIndex, makeTar } from './support/images';
import { writeLayout, writeLayoutArchive } from './support/oci-layout';
import { CustomerReadySynthesizer } from '../src/customer-ready-synthesizer';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { InstallRepository } from '../src/install-repository';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-layout-'));
const index = buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8'] });
const single = buildImage({ format: 'docker' });
const layout = writeLayout(scratch, [{ image: index, ref: 'v1.2.3' }]);

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function sync(stack: Stack, source: ImageSource, extra: { tag?: string } = {}): ImageSync {
  return new ImageSync(stack, 'Api', { source, destination: ImageSyncDestination.fromInstallRepository(new InstallRepository(stack, 'Repo')), ...extra });
}

function properties(stack: Stack): { [key: string]: any } {
  return Object.values(Template.fromStack(stack).findResources(IMAGE_SYNC_RESOURCE_TYPE))[0].Properties;
}

describe('ImageSource.fromOciLayout', () => {
  test('ships the image as an oci-archive asset pinned to the layout\'s digest, tagged with its ref name, readable only by the function', () => {
    const stack = newStack();
    sync(stack, ImageSource.fromOciLayout(layout));

    const template = Template.fromStack(stack);
    const props = properties(stack);
    expect(props).toMatchObject({ SourceKind: 'OciArchive', ExpectedSourceDigest: index.digest, DestinationTag: 'api_v1.2.3' });
    expect(props.SourceImage).toBeUndefined();
    const objectKey = props.SourceObjectKey;
    expect(JSON.stringify(objectKey)).toMatch(/\.tar/);
    const s3 = policyStatements(template, SHARED_ROLE_PREFIX).filter((s) => JSON.stringify(s.Action).includes('s3:'));
    expect(s3).toHaveLength(1);
    expect(s3[0].Action).toEqual('s3:GetObject');
    expect(JSON.stringify(s3[0].Resource)).toContain(JSON.stringify(objectKey).slice(1, -1));
  });

  test('gives the same asset for the same image, from a directory, a tar or a gzipped tar', () => {
    const key = (source: ImageSource) => {
      const stack = newStack();
      sync(stack, source);
      return properties(stack).SourceObjectKey;
    };
    const tar = writeLayoutArchive(scratch, [{ image: index, ref: 'v1.2.3' }]);
    const gz = path.join(scratch, 'image.tar.gz');
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(tar)));

    const fromDirectory = key(ImageSource.fromOciLayout(layout));
    expect(key(ImageSource.fromOciLayout(layout))).toEqual(fromDirectory);
    expect(key(ImageSource.fromOciArchive(tar))).toEqual(fromDirectory);
    expect(key(ImageSource.fromOciArchive(gz))).toEqual(fromDirectory);
  });

  test('chooses the image by its ref name among several, and the tag given wins over the ref name', () => {
    const many = writeLayout(scratch, [{ image: index, ref: 'v1.2.3' }, { image: single, ref: 'debug' }]);
    const stack = newStack();
    sync(stack, ImageSource.fromOciLayout(many, { ref: 'debug' }), { tag: 'release-7' });

    expect(properties(stack)).toMatchObject({ ExpectedSourceDigest: single.digest, DestinationTag: 'api_release-7' });
  });

  test('fails on a layout of several images without a ref, naming them, and on a ref it lacks', () => {
    const many = writeLayout(scratch, [{ image: index, ref: 'v1.2.3' }, { image: single, ref: 'debug' }]);
    expect(() => ImageSource.fromOciLayout(many)).toThrow(
      new RegExp(`index.json names 2 images \\(v1\\.2\\.3 \\(${index.digest}\\), debug \\(${single.digest}\\)\\): say which one by its org\\.opencontainers\\.image\\.ref\\.name`));
    expect(() => ImageSource.fromOciLayout(many, { ref: 'v9' })).toThrow(/index.json names no image "v9" \(org.opencontainers.image.ref.name\); it names v1\.2\.3/);
  });

  test('fails at synth on a blob that does not match its digest, naming it', () => {
    const broken = writeLayout(scratch, [{ image: single, ref: 'v1' }]);
    const layer = JSON.parse(single.manifest.toString('utf8')).layers[0].digest;
    const file = path.join(broken, 'blobs', 'sha256', layer.slice(7));
    const bytes = fs.readFileSync(file);
    bytes[0] = 255 - bytes[0];
    fs.writeFileSync(file, bytes);

    expect(() => ImageSource.fromOciLayout(broken)).toThrow(
      new RegExp(`Invalid ImageSource.fromOciLayout props:\\n {2}- directory: ".*" is not allowed: an OCI image layout directory whose image can be synced: .*layer 1 ${layer} does not match its bytes`));
  });

  test.each([
    ['a missing path', () => ImageSource.fromOciLayout(path.join(scratch, 'nope')), /directory: ".*nope" is not allowed: .*does not exist/],
    ['a file where a directory is expected', () => ImageSource.fromOciLayout(writeLayoutArchive(scratch, [{ image: single }])), /is not a directory \(give an oci-archive file to ImageSource\.fromOciArchive\)/],
    ['a directory where an archive is expected', () => ImageSource.fromOciArchive(layout), /file: ".*" is not allowed: .*is not a file/],
    ['an old docker save archive', () => {
      const file = path.join(scratch, 'docker-save.tar');
      fs.writeFileSync(file, makeTar([{ name: 'manifest.json', data: Buffer.from('[]') }, { name: 'repositories', data: Buffer.from('{}') }]));
      return ImageSource.fromOciArchive(file);
    }, /a docker save archive of the old format \(manifest\.json, no oci-layout\), which is not supported: save it with Docker 25 or later/],
    ['a layout without blobs', () => {
      const dir = writeLayout(scratch, [{ image: single }]);
      fs.rmSync(path.join(dir, 'blobs'), { recursive: true });
      return ImageSource.fromOciLayout(dir);
    }, /the image sha256:[a-f0-9]{64} is missing from blobs\/sha256\//],
  ])('fails on %s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  test('fails when the ImageSync asks for platforms: they are chosen when the layout is made', () => {
    const stack = newStack();
    expect(() => new ImageSync(stack, 'Api', {
      source: ImageSource.fromOciLayout(layout),
      destination: ImageSyncDestination.fromInstallRepository(new InstallRepository(stack, 'Repo')),
      platforms: [ecr_assets.Platform.LINUX_ARM64],
    })).toThrow(/platforms: \["linux\/arm64"\] is not allowed: no platforms with a Helm repository or archive source/);
  });

  test('fails without a tag when the layout\'s ref name is not a tag', () => {
    const dir = writeLayout(scratch, [{ image: single, ref: 'docker.io/acme/api:1.0' }]);
    expect(() => sync(newStack(), ImageSource.fromOciLayout(dir))).toThrow(/tag: undefined is not allowed: a destination tag/);
  });

  test('is published to the vendor\'s bucket by CustomerReadySynthesizer, and passes cdk-nag AwsSolutions', () => {
    const app = new App();
    const stack = new Stack(app, 'Install', {
      synthesizer: new CustomerReadySynthesizer({ fileAssetsBucketName: 'acme-byoc-assets-${AWS::Region}', fileAssetsKeyPrefix: 'install/' }),
    });
    sync(stack, ImageSource.fromOciLayout(layout));

    const props = properties(stack);
    expect(props.SourceBucket).toEqual({ 'Fn::Sub': 'acme-byoc-assets-${AWS::Region}' });
    expect(props.SourceObjectKey).toMatch(/^install\/[a-f0-9]{64}\.tar$/);
    const assembly = app.synth();
    const assets = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Install.assets.json'), 'utf8'));
    const entry = Object.values(assets.files as { [hash: string]: any }).find((f) => f.source.path.endsWith('.tar'));
    expect(Object.values(entry.destinations)).toEqual([expect.objectContaining({ bucketName: 'acme-byoc-assets-${AWS::Region}', objectKey: props.SourceObjectKey })]);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`)).toEqual([]);
  });
});
