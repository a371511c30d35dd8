import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, DefaultStackSynthesizer, Lazy, Stack, StackProps } from 'aws-cdk-lib';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import { AssetManifest, AwsCloudFormationStackProperties, FileAsset, Manifest } from 'aws-cdk-lib/cloud-assembly-schema';
import { CustomerReadySynthesizer, CustomerReadySynthesizerProps } from '../src/customer-ready-synthesizer';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { InstallRepository } from '../src/install-repository';

const BUCKET = 'acme-byoc-assets-${AWS::Region}';
const KEY_PREFIX = 'byoc/install/';
const HASH_KEY = /^byoc\/install\/[0-9a-f]{64}\.(zip|json)$/;

let outdir: string;
beforeEach(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-ready-'));
});
afterEach(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

/** An install stack: a repository and one release synced into it (one Lambda-backed provider). */
function installStack(app: App, id: string, props: StackProps = {}): Stack {
  const stack = new Stack(app, id, props);
  const repository = new InstallRepository(stack, 'Artifacts', { repositoryName: 'acme/install' });
  new ImageSync(stack, 'Proxy', {
    source: ImageSource.fromRegistry('public.ecr.aws/nginx/nginx:1.27-alpine'),
    destination: ImageSyncDestination.fromInstallRepository(repository),
    tag: 'nginx-1.27-alpine',
  });
  return stack;
}

function customerReady(props: Partial<CustomerReadySynthesizerProps> = {}): CustomerReadySynthesizer {
  return new CustomerReadySynthesizer({ fileAssetsBucketName: BUCKET, fileAssetsKeyPrefix: KEY_PREFIX, ...props });
}

interface Synthesized {
  readonly template: any;
  readonly assets: AssetManifest;
  readonly stackProperties: AwsCloudFormationStackProperties;
}

function synth(app: App, stackName: string): Synthesized {
  const assembly = app.synth();
  const stack = assembly.getStackByName(stackName);
  const assets = Manifest.loadAssetManifest(path.join(assembly.directory, `${stack.id}.assets.json`));
  const artifact = Manifest.loadAssemblyManifest(path.join(assembly.directory, 'manifest.json')).artifacts![stack.id];
  return { template: stack.template, assets, stackProperties: artifact.properties as AwsCloudFormationStackProperties };
}

function fileAssets(assets: AssetManifest): FileAsset[] {
  return Object.values(assets.files ?? {});
}

function lambdaCodes(template: any): any[] {
  return Object.values<any>(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => r.Properties.Code);
}

describe('CustomerReadySynthesizer', () => {
  test('synthesizes an install stack with no bootstrap version parameter or rule, no bootstrap name and no CDK metadata resource', () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { synthesizer: customerReady(), analyticsReporting: true });
    const { template } = synth(app, 'Install');
    const text = JSON.stringify(template);

    expect(template.Parameters?.BootstrapVersion).toBeUndefined();
    expect(template.Rules?.CheckBootstrapVersion).toBeUndefined();
    expect(text).not.toContain('hnb659fds');
    expect(text).not.toContain('cdk-bootstrap');
    expect(text).not.toContain('AWS::CDK::Metadata');
    expect(text).not.toContain('CDKMetadataAvailable');
    expect(Object.values<any>(template.Resources).some((r) => r.Type === 'Custom::ImageSync')).toBe(true);
  });

  test('leaves the bootstrapped path as it was: the default synthesizer still checks the bootstrap version', () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { synthesizer: new DefaultStackSynthesizer(), analyticsReporting: true });
    const { template } = synth(app, 'Install');

    expect(template.Parameters.BootstrapVersion.Default).toBe('/cdk-bootstrap/hnb659fds/version');
    expect(template.Rules.CheckBootstrapVersion).toBeDefined();
    expect(JSON.stringify(template)).toContain('AWS::CDK::Metadata');
    for (const code of lambdaCodes(template)) {
      expect(JSON.stringify(code.S3Bucket)).toContain('cdk-hnb659fds-assets');
    }
  });

  test("reads every Lambda function's code from the vendor's bucket in the region the customer deploys to", () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { synthesizer: customerReady() });
    const { template } = synth(app, 'Install');
    const codes = lambdaCodes(template);

    expect(codes.length).toBeGreaterThanOrEqual(2);
    for (const code of codes) {
      expect(code.S3Bucket).toEqual({ 'Fn::Sub': BUCKET });
      expect(code.S3Key).toMatch(HASH_KEY);
    }
  });

  test('writes an asset manifest that tells the vendor what to publish to each regional bucket, template included', () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { synthesizer: customerReady({ regions: ['eu-west-1', 'us-east-1'] }) });
    const { template, assets } = synth(app, 'Install');
    const files = fileAssets(assets);

    // Every object the template reads is published, and so is the template itself.
    const published = new Set(files.flatMap((f) => Object.values(f.destinations).map((d) => d.objectKey)));
    for (const code of lambdaCodes(template)) {
      expect(published).toContain(code.S3Key);
    }
    expect(files.map((f) => f.source.path)).toContain('Install.template.json');
    expect(assets.dockerImages ?? {}).toEqual({});

    for (const file of files) {
      const destinations = Object.values(file.destinations);
      expect(destinations.map((d) => [d.region, d.bucketName]).sort()).toEqual([
        ['eu-west-1', 'acme-byoc-assets-eu-west-1'],
        ['us-east-1', 'acme-byoc-assets-us-east-1'],
      ]);
      for (const d of destinations) {
        expect(d.objectKey).toMatch(HASH_KEY);
        expect(d.assumeRoleArn).toBeUndefined();
      }
    }
  });

  test("without regions, names one destination whose bucket follows the publishing credentials' region", () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { synthesizer: customerReady() });
    const { assets } = synth(app, 'Install');

    for (const file of fileAssets(assets)) {
      expect(Object.values(file.destinations)).toEqual([{ bucketName: BUCKET, objectKey: expect.stringMatching(HASH_KEY) }]);
    }
  });

  test("points the CDK CLI at the template in the vendor's bucket and names no bootstrap role or version", () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { synthesizer: customerReady() });
    const { stackProperties, assets } = synth(app, 'Install');
    const templateFile = fileAssets(assets).find((f) => f.source.path === 'Install.template.json')!;
    const templateKey = Object.values(templateFile.destinations)[0].objectKey;

    expect(stackProperties.stackTemplateAssetObjectUrl).toBe(`s3://${BUCKET}/${templateKey}`);
    expect(stackProperties.assumeRoleArn).toBeUndefined();
    expect(stackProperties.cloudFormationExecutionRoleArn).toBeUndefined();
    expect(stackProperties.requiresBootstrapStackVersion).toBeUndefined();
    expect(stackProperties.bootstrapStackVersionSsmParameter).toBeUndefined();
    expect(stackProperties.lookupRole).toBeUndefined();
  });

  test("names the region's bucket when the stack is bound to a region", () => {
    const app = new App({ outdir });
    installStack(app, 'Install', { env: { region: 'eu-west-1' }, synthesizer: customerReady() });
    const { template, assets } = synth(app, 'Install');

    for (const code of lambdaCodes(template)) {
      expect(code.S3Bucket).toBe('acme-byoc-assets-eu-west-1');
    }
    for (const file of fileAssets(assets)) {
      expect(Object.values(file.destinations).map((d) => [d.region, d.bucketName])).toEqual([['eu-west-1', 'acme-byoc-assets-eu-west-1']]);
    }
  });

  test('can be the default synthesizer of an app: each stack gets its own asset manifest', () => {
    const app = new App({ outdir, defaultStackSynthesizer: customerReady() });
    installStack(app, 'Install');
    new InstallRepository(new Stack(app, 'RepositoryOnly'), 'Artifacts');
    app.synth();
    const sources = (id: string) => fileAssets(synth(app, id).assets).map((f) => f.source.path);

    expect(sources('RepositoryOnly')).toEqual(['RepositoryOnly.template.json']);
    expect(sources('Install')).toContain('Install.template.json');
    expect(sources('Install')).not.toContain('RepositoryOnly.template.json');
    expect(sources('Install').length).toBeGreaterThan(1);
  });

  test('fails on a Docker image asset and says how to ship the image instead', () => {
    const app = new App({ outdir });
    const stack = new Stack(app, 'Install', { synthesizer: customerReady() });
    const context = fs.mkdtempSync(path.join(outdir, 'image-'));
    fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\n');

    expect(() => new ecr_assets.DockerImageAsset(stack, 'Image', { directory: context }))
      .toThrow(/stack Install uses the Docker image built from .*no CDK bootstrap repository.*TenantRepository.*ImageSync/s);
  });

  test('fails when a stack is bound to a region the vendor does not publish to', () => {
    const app = new App({ outdir });
    expect(() => new Stack(app, 'Install', { env: { region: 'ap-south-1' }, synthesizer: customerReady({ regions: ['eu-west-1'] }) }))
      .toThrow(/stack Install is bound to region ap-south-1, which is not in regions \["eu-west-1"\]: add ap-south-1 to regions/);
  });

  test.each([
    ['a bucket name without the region', { fileAssetsBucketName: 'acme-byoc-assets' }, /fileAssetsBucketName: "acme-byoc-assets" is not allowed: a bucket name with "\$\{AWS::Region\}" exactly once/],
    ['the region twice', { fileAssetsBucketName: '${AWS::Region}-acme-${AWS::Region}' }, /exactly once/],
    ["the customer's account", { fileAssetsBucketName: 'acme-${AWS::AccountId}-${AWS::Region}' }, /only "\$\{AWS::Region\}" may appear \(found \$\{AWS::AccountId\}\)/],
    ['upper case', { fileAssetsBucketName: 'Acme-${AWS::Region}' }, /in [a-z0-9-]+ it is "Acme-[a-z0-9-]+" and it must be 3-63 lowercase letters/],
    ['a name too long for the longest region', { fileAssetsBucketName: `${'a'.repeat(49)}-\${AWS::Region}` }, /in ap-[a-z]+-\d it is .* and it must be 3-63/],
    ['a reserved suffix', { fileAssetsBucketName: 'acme-${AWS::Region}-s3alias' }, /it must not end with "-s3alias"/],
    ['a token', { fileAssetsBucketName: Lazy.string({ produce: () => 'acme-${AWS::Region}' }) }, /fileAssetsBucketName: .* is not allowed: a literal string/],
    ['a key prefix with a leading slash', { fileAssetsKeyPrefix: '/byoc/' }, /fileAssetsKeyPrefix: "\/byoc\/" is not allowed: an S3 key prefix/],
    ['a key prefix with spaces', { fileAssetsKeyPrefix: 'byoc install/' }, /fileAssetsKeyPrefix: "byoc install\/" is not allowed/],
    ['an empty region list', { regions: [] }, /regions: \[\] is not allowed: a non-empty list of region names/],
    ['a region that is not a region name', { regions: ['eu-west-1', 'Europe'] }, /regions\[1\]: "Europe" is not allowed: a region name/],
    ['a region twice', { regions: ['eu-west-1', 'eu-west-1'] }, /regions\[1\]: "eu-west-1" is not allowed: each region once/],
  ])('fails on %s', (_name, props, message) => {
    expect(() => customerReady(props as Partial<CustomerReadySynthesizerProps>)).toThrow(message);
  });

  test('fails with every problem in one message', () => {
    expect(() => customerReady({ fileAssetsBucketName: 'acme', fileAssetsKeyPrefix: '//', regions: ['x'] }))
      .toThrow(/Invalid CustomerReadySynthesizer props:\n {2}- fileAssetsBucketName: .*\n {2}- fileAssetsKeyPrefix: .*\n {2}- regions\[0\]: /);
  });
});
