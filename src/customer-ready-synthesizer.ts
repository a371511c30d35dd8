import * as path from 'path';
import {
  AssetManifestBuilder,
  DockerImageAssetLocation,
  DockerImageAssetSource,
  FileAssetLocation,
  FileAssetPackaging,
  FileAssetSource,
  IBoundStackSynthesizer,
  IReusableStackSynthesizer,
  ISynthesisSession,
  Stack,
  StackSynthesizer,
  Token,
} from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { show, ValidationProblems } from './private/validation';

/**
 * Properties of a {@link CustomerReadySynthesizer}.
 */
export interface CustomerReadySynthesizerProps {
  /**
   * The name of the vendor's file asset bucket in each region, with the region as the
   * placeholder `${AWS::Region}`, e.g. `acme-byoc-assets-${AWS::Region}`.
   *
   * Lambda reads its code only from a bucket in the function's own region, so the vendor keeps
   * one bucket per region it supports and publishes the same objects to each. In the template the
   * placeholder becomes the region the customer deploys to (`Fn::Sub`). Other placeholders
   * (`${AWS::AccountId}`, `${AWS::Partition}`, `${Qualifier}`) are not allowed: they would name
   * the customer's account, not the vendor's bucket.
   */
  readonly fileAssetsBucketName: string;

  /**
   * A prefix for the object keys of the assets in the vendor's buckets, e.g. `byoc/install/`.
   *
   * Each key ends in the asset's content hash, so a changed asset never replaces the object an
   * older template points at. A bucket policy can grant read on this prefix only.
   *
   * @default - no prefix: keys are `<hash>.zip` and `<hash>.json` at the bucket's root
   */
  readonly fileAssetsKeyPrefix?: string;

  /**
   * The regions the vendor publishes the assets to. The asset manifest then names one
   * destination per region (bucket name and region spelled out), so that a single
   * `cdk-assets publish` fills every regional bucket.
   *
   * @default - one destination whose `${AWS::Region}` is the region of the credentials that
   * publish: publish once per region with `AWS_REGION` set
   */
  readonly regions?: string[];
}

/**
 * Synthesizes a stack into a CloudFormation template that a customer can deploy without CDK
 * bootstrap: a template for a quick-create link, a StackSet or a Service Catalog product.
 *
 * - File assets (Lambda code, nested templates, the template itself) live in the vendor's
 *   region-named buckets: the template reads `Code.S3Bucket` as
 *   `Fn::Sub: <fileAssetsBucketName>` with `${AWS::Region}` left for CloudFormation to fill in.
 *   The vendor publishes them once per region with the asset manifest this synthesizer writes
 *   (`<stack>.assets.json`), e.g. with `cdk-assets publish`.
 * - No `BootstrapVersion` parameter or rule, no bootstrap role, bucket or repository, and no
 *   `AWS::CDK::Metadata` resource (construct analytics) in the customer's template.
 * - Docker image assets fail at synth: there is no bootstrap repository in the customer's
 *   account. Ship images through the tenant repository and an `ImageSync` instead.
 *
 * Leave the stack's `env` unset (environment-agnostic) for one template that works in every
 * account and region; with a concrete region, the template names that region's bucket.
 * `cdk deploy` of such a stack uses the current credentials, which must be able to write to the
 * vendor's bucket: the customer's path is CloudFormation, not the CDK CLI.
 *
 * @example
 * import { App, Stack } from 'aws-cdk-lib';
 * import { CustomerReadySynthesizer } from 'cdk-byoc-artifacts';
 *
 * const app = new App();
 * new Stack(app, 'ByocInstall', {
 *   synthesizer: new CustomerReadySynthesizer({
 *     fileAssetsBucketName: 'acme-byoc-assets-${AWS::Region}',
 *     fileAssetsKeyPrefix: 'install/',
 *   }),
 * });
 */
export class CustomerReadySynthesizer extends StackSynthesizer implements IReusableStackSynthesizer, IBoundStackSynthesizer {
  private readonly props: CustomerReadySynthesizerProps;
  private readonly keyPrefix: string;
  private readonly regions?: string[];
  private readonly assetManifest = new AssetManifestBuilder();
  private bucketName?: string;

  constructor(props: CustomerReadySynthesizerProps) {
    super();
    checkProps(props);
    this.props = props;
    this.keyPrefix = props.fileAssetsKeyPrefix ?? '';
    this.regions = props.regions ? [...props.regions] : undefined;
  }

  public bind(stack: Stack): void {
    super.bind(stack);
    const region = stack.region;
    if (!Token.isUnresolved(region) && this.regions && !this.regions.includes(region)) {
      throw new Error(
        `CustomerReadySynthesizer: stack ${stack.node.path} is bound to region ${region}, which is not in regions ${show(this.regions)}: ` +
        `add ${region} to regions, or leave the stack's region unset for a template that works in every region`,
      );
    }
    this.bucketName = Token.isUnresolved(region) ? this.props.fileAssetsBucketName : bucketNameIn(this.props.fileAssetsBucketName, region);
  }

  /**
   * Produces a bound synthesizer for the given stack: a fresh instance with the same props, so
   * one synthesizer can be shared by several stacks (e.g. as an app's default).
   */
  public reusableBind(stack: Stack): IBoundStackSynthesizer {
    const bound = new CustomerReadySynthesizer(this.props);
    bound.bind(stack);
    return bound;
  }

  public addFileAsset(asset: FileAssetSource): FileAssetLocation {
    const stack = this.boundStack;
    const extension = asset.packaging === FileAssetPackaging.ZIP_DIRECTORY ? '.zip' : asset.fileName ? path.extname(asset.fileName) : '';
    const objectKey = `${this.keyPrefix}${asset.sourceHash}${extension}`;
    const source = { path: asset.fileName, executable: asset.executable, packaging: asset.packaging };
    const options = asset.displayName ? { displayName: asset.displayName } : undefined;

    if (this.regions) {
      for (const region of this.regions) {
        this.assetManifest.addFileAsset(stack, asset.sourceHash, source, {
          bucketName: bucketNameIn(this.props.fileAssetsBucketName, region),
          objectKey,
          region,
        }, options);
      }
    } else {
      this.assetManifest.addFileAsset(stack, asset.sourceHash, source, {
        bucketName: this.bucketName!,
        objectKey,
        region: Token.isUnresolved(stack.region) ? undefined : stack.region,
      }, options);
    }
    return this.cloudFormationLocationFromFileAsset({ bucketName: this.bucketName!, objectKey });
  }

  public addDockerImageAsset(asset: DockerImageAssetSource): DockerImageAssetLocation {
    const what = asset.directoryName ? `the Docker image built from ${asset.directoryName}` : 'a Docker image asset';
    throw new Error(
      `CustomerReadySynthesizer: stack ${this.boundStack.node.path} uses ${what}, but a customer-ready template cannot: ` +
      "the customer's account has no CDK bootstrap repository to push it to. Build the image into the vendor's " +
      'TenantRepository (tenant stack) and copy it into the install with an ImageSync, or reference a published ' +
      'image by URI (ecs.ContainerImage.fromRegistry / fromEcrRepository).',
    );
  }

  public synthesize(session: ISynthesisSession): void {
    const stack = this.boundStack;
    // Construct analytics: a customer's account should not report which vendor constructs it runs.
    stack.node.tryRemoveChild('CDKMetadata');

    const templateAsset = this.addFileAsset(this.synthesizeTemplate(session));
    const assetManifestId = this.assetManifest.emitManifest(stack, session);
    this.emitArtifact(session, {
      stackTemplateAssetObjectUrl: templateAsset.s3ObjectUrlWithPlaceholders,
      additionalDependencies: [assetManifestId],
    });
  }
}

const REGION_PLACEHOLDER = '${AWS::Region}';
// Region names: us-east-1, us-gov-west-1, eusc-de-east-1, us-isof-south-1.
const REGION_NAME = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
// S3 general purpose bucket names: 3-63 of lowercase letters, digits, '.' and '-', starting and
// ending with a letter or digit, no '..', not an IP address, and a few reserved prefixes/suffixes.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IP_ADDRESS = /^\d{1,3}(\.\d{1,3}){3}$/;
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
// S3's "safe" key characters.
const KEY_PREFIX = /^[A-Za-z0-9!_.*'()/-]*$/;
const MAX_KEY_PREFIX = 900; // S3 keys are at most 1024 bytes: room for a 64-digit hash and extension.

function bucketNameIn(pattern: string, region: string): string {
  return pattern.split(REGION_PLACEHOLDER).join(region);
}

function bucketNameProblem(name: string): string | undefined {
  if (!BUCKET_NAME.test(name)) return 'it must be 3-63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit';
  if (name.includes('..')) return 'it must not contain ".."';
  if (IP_ADDRESS.test(name)) return 'it must not look like an IP address';
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `it must not start with "${prefix}"`;
  const suffix = RESERVED_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return `it must not end with "${suffix}"`;
  return undefined;
}

function checkProps(props: CustomerReadySynthesizerProps): void {
  const p = new ValidationProblems('CustomerReadySynthesizer');
  const literal = 'a literal string: the asset manifest needs it before deployment, so it cannot be a token';

  const bucket = props.fileAssetsBucketName;
  if (typeof bucket !== 'string' || Token.isUnresolved(bucket)) {
    p.add('fileAssetsBucketName', bucket, literal);
  } else {
    const placeholders = bucket.match(/\$\{[^}]*\}/g) ?? [];
    const others = placeholders.filter((ph) => ph !== REGION_PLACEHOLDER);
    if (placeholders.length - others.length !== 1) {
      p.add('fileAssetsBucketName', bucket,
        'a bucket name with "${AWS::Region}" exactly once, e.g. "acme-byoc-assets-${AWS::Region}": Lambda reads code only from a bucket in its own region');
    } else if (others.length > 0) {
      p.add('fileAssetsBucketName', bucket,
        `only "\${AWS::Region}" may appear (found ${others.join(', ')}): account, partition and qualifier placeholders would name the customer's account, not the vendor's bucket`);
    } else {
      const regions = props.regions?.filter((r) => typeof r === 'string' && REGION_NAME.test(r)) ?? [longestRegionName()];
      for (const region of regions) {
        const name = bucketNameIn(bucket, region);
        const problem = bucketNameProblem(name);
        if (problem) {
          p.add('fileAssetsBucketName', bucket, `an S3 bucket name in every region; in ${region} it is "${name}" and ${problem}`);
          break;
        }
      }
    }
  }

  const keyPrefix = props.fileAssetsKeyPrefix;
  if (keyPrefix !== undefined) {
    if (typeof keyPrefix !== 'string' || Token.isUnresolved(keyPrefix)) {
      p.add('fileAssetsKeyPrefix', keyPrefix, literal);
    } else if (!KEY_PREFIX.test(keyPrefix) || keyPrefix.startsWith('/') || keyPrefix.includes('//') || keyPrefix.length > MAX_KEY_PREFIX) {
      p.add('fileAssetsKeyPrefix', keyPrefix,
        `an S3 key prefix of up to ${MAX_KEY_PREFIX} letters, digits and !_.*'()/-, not starting with "/" and without "//", e.g. "byoc/install/"`);
    }
  }

  const regions = props.regions;
  if (regions !== undefined) {
    if (!Array.isArray(regions) || Token.isUnresolved(regions) || regions.length === 0) {
      p.add('regions', regions, 'a non-empty list of region names, e.g. ["eu-west-1", "us-east-1"]');
    } else {
      regions.forEach((region, i) => {
        if (typeof region !== 'string' || Token.isUnresolved(region) || !REGION_NAME.test(region)) {
          p.add(`regions[${i}]`, region, 'a region name such as "eu-west-1" or "us-gov-west-1" (literal, not a token)');
        } else if (regions.indexOf(region) !== i) {
          p.add(`regions[${i}]`, region, 'each region once');
        }
      });
    }
  }

  p.throwIfAny();
}

/** The longest region name of the commercial partition: the bucket name must fit in any of them. */
function longestRegionName(): string {
  return RegionInfo.regions
    .filter((r) => r.partition === 'aws')
    .map((r) => r.name)
    .reduce((a, b) => (b.length > a.length ? b : a), 'us-east-1');
}
