import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { platformProblem } from './platform';
import { copyImage } from './private/ecr-deployment';
import { checkImageTag, isToken, ValidationProblems } from './private/validation';

/** The published asset image a `TenantImageSource` creates. */
interface AssetImage {
  /** The asset image's URI, `<account>.dkr.ecr.<region>.amazonaws.com/<asset repository>:<asset tag>`. */
  readonly imageUri: string;
  /** The CDK asset repository holding the image. */
  readonly repository: ecr.IRepository;
  /** The asset's content hash: the default tag of the copy. */
  readonly assetHash: string;
  /** The CPU architecture of the image (`amd64`, `arm64`), when the build names a platform. */
  readonly architecture?: string;
}

/**
 * Where the image of a {@link TenantImage} comes from: a Docker build or a tarball, both
 * published as CDK assets first. Create one with a static factory.
 */
export class TenantImageSource {
  /**
   * Builds the image from a directory with a Dockerfile (a `DockerImageAsset`).
   *
   * @param directory the build context, with the Dockerfile (or `options.file`)
   * @param options build options: `file`, `buildArgs`, `platform`, `target`, ...
   */
  public static fromDirectory(directory: string, options: ecr_assets.DockerImageAssetOptions = {}): TenantImageSource {
    const platform = options.platform?.platform;
    const p = new ValidationProblems('TenantImageSource.fromDirectory');
    if (platform !== undefined && !isToken(platform) && platformProblem(platform) !== undefined) {
      p.add('platform', platform, 'os/architecture[/variant], e.g. "linux/amd64" or "linux/arm64/v8"');
    }
    p.throwIfAny();
    return new TenantImageSource((scope) => {
      const asset = new ecr_assets.DockerImageAsset(scope, 'Asset', { ...options, directory });
      return {
        imageUri: asset.imageUri,
        repository: asset.repository,
        assetHash: asset.assetHash,
        architecture: platform ? platform.split('/')[1] : undefined,
      };
    });
  }

  /**
   * Loads the image from a `docker save` tarball (a `TarballImageAsset`).
   *
   * @param tarballFile absolute path of the tarball
   */
  public static fromTarball(tarballFile: string): TenantImageSource {
    return new TenantImageSource((scope) => {
      const asset = new ecr_assets.TarballImageAsset(scope, 'Asset', { tarballFile });
      return { imageUri: asset.imageUri, repository: asset.repository, assetHash: asset.assetHash };
    });
  }

  private constructor(private readonly createAsset: (scope: Construct) => AssetImage) {}

  /**
   * Creates the asset under `scope` and describes the published image.
   *
   * @internal
   */
  public _bind(scope: Construct): AssetImage {
    return this.createAsset(scope);
  }
}

/**
 * Properties of a {@link TenantImage}.
 */
export interface TenantImageProps {
  /** The repository the image is copied into. */
  readonly repository: ecr.IRepository;

  /** The image: `TenantImageSource.fromDirectory(...)` or `TenantImageSource.fromTarball(...)`. */
  readonly source: TenantImageSource;

  /**
   * The tag of the image in `repository`.
   *
   * In an immutable repository a tag cannot be pushed twice: a fixed tag (e.g. `v1.4.2`) must
   * change whenever the image's content changes, or the deployment fails. The default, the
   * asset's content hash, changes exactly when the content does.
   *
   * @default - the asset hash (64 hex characters)
   */
  readonly tag?: string;
}

/**
 * An image built by CDK (Dockerfile or tarball asset) and copied into an ECR repository under a
 * chosen tag with `cdk-ecr-deployment`.
 *
 * The copy runs in a Lambda function whose role may only pull from the CDK asset repository and
 * push to the destination repository; one role serves every `TenantImage` of a stack.
 */
export class TenantImage extends Construct {
  /** The tag of the image in the destination repository. */
  public readonly imageTag: string;

  /** The image's URI in the destination repository: `<repositoryUri>:<imageTag>`. */
  public readonly imageUri: string;

  /** The URI of the CDK asset image that is copied. */
  public readonly sourceImageUri: string;

  /** The deployment that copies the image; depend on it to use the image in the same stack. */
  public readonly deployment: Construct;

  constructor(scope: Construct, id: string, props: TenantImageProps) {
    super(scope, id);
    const problems = new ValidationProblems('TenantImage');
    if (props.tag !== undefined) {
      checkImageTag(problems, 'tag', props.tag);
    }
    problems.throwIfAny();

    const source = props.source._bind(this);
    this.imageTag = props.tag ?? source.assetHash;
    this.imageUri = props.repository.repositoryUriForTag(this.imageTag);
    this.sourceImageUri = source.imageUri;
    this.deployment = copyImage(this, 'Deployment', {
      sourceRepository: source.repository,
      sourceImageUri: source.imageUri,
      destinationRepository: props.repository,
      destinationImageUri: this.imageUri,
      architecture: source.architecture,
    });
  }
}
