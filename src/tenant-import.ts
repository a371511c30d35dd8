import { CustomResource, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ImageSource } from './image-source';
import { Attributes, DEFAULT_TOTAL_TIMEOUT_SECONDS } from './image-sync-contract';
import { ImageSyncDestination } from './image-sync-destination';
import { ImageSyncProvider } from './image-sync-provider';
import { createSyncResource } from './private/sync-resource';
import { checkDigest, checkImageTag, checkWholeSeconds, isToken, ValidationProblems } from './private/validation';

const RELEASE_ID = /^[\w+=,.@-]{1,64}$/;

/**
 * Options of {@link TenantRepository.importImage}: a third-party image and the tag it lands under.
 */
export interface TenantImportOptions {
  /**
   * The image to import: `ImageSource.fromRegistry('docker.io/library/nginx:1.27')` for a public
   * image, with `credentials` for a private registry, or `ImageSource.fromTenantEcr` /
   * `ImageSource.fromEcr` for another ECR repository (an access role, or a repository policy).
   */
  readonly source: ImageSource;

  /**
   * The tag written in the tenant repository. Tenant tags are immutable: importing another image
   * takes another tag.
   *
   * @default - the source tag; required when the source is given by digest only
   */
  readonly tag?: string;

  /**
   * The digest the source tag must name (`sha256:...`). When the upstream tag has moved to
   * another image, the import fails before any tag is written, so a release never ships an image
   * nobody vetted. Only for a source given by tag: a source given by digest is pinned already.
   *
   * @default - whatever the source tag names at deploy time (exposed as `imageDigest`)
   */
  readonly expectedDigest?: string;

  /**
   * A release id. Changing it runs the import again (a no-op when the tenant repository holds the
   * image under the tag).
   *
   * @default - no release id
   */
  readonly releaseId?: string;

  /**
   * Also import the image's referrers: the upstream's signatures, SBOMs and attestations (OCI 1.1
   * referrers API, else the referrers tag schema and cosign's `sha256-<hex>.sig|.att|.sbom` tags),
   * so that they travel on to the installs with the image. Off by default: upstream registries
   * differ in what they answer for referrers.
   *
   * @default false
   */
  readonly copyReferrers?: boolean;

  /**
   * The time budget of one Create or Update. At most one hour.
   *
   * @default Duration.hours(1)
   */
  readonly totalTimeout?: Duration;

  /**
   * The provider whose function runs the copy. It must belong to this stack.
   *
   * @default - the stack's shared provider, `ImageSyncProvider.of(this)`
   */
  readonly provider?: ImageSyncProvider;
}

/**
 * Properties of a {@link TenantImport}.
 */
export interface TenantImportProps extends TenantImportOptions {
  /** The tenant repository the image is imported into. */
  readonly repository: ecr.IRepository;
}

/**
 * Imports a third-party image into a tenant repository at deploy time, pinned to a digest, with
 * the project's own copy engine (the `ImageSync` function and its `Custom::ImageSync` resource;
 * the tag is written as given, not as a release family).
 *
 * Installs then sync the imported image from the tenant like any other component: they never pull
 * from the upstream registry, and every install gets the same digest. Create and Update copy (a
 * no-op when the tag already names the digest); Delete keeps the image.
 */
export class TenantImport extends Construct {
  /** The imported image's digest (`sha256:...`): the digest the source tag named, or `expectedDigest`. */
  public readonly imageDigest: string;

  /** The digest-pinned image in the tenant repository, `<repositoryUri>@<digest>`. */
  public readonly imageUri: string;

  /** The tag written in the tenant repository. */
  public readonly imageTag: string;

  /** The tenant repository's URI. */
  public readonly repositoryUri: string;

  /** The custom resource. */
  public readonly resource: CustomResource;

  /** The provider that runs the copy. */
  public readonly provider: ImageSyncProvider;

  /** The provider's sync function. */
  public readonly syncFunction: lambda.IFunction;

  constructor(scope: Construct, id: string, props: TenantImportProps) {
    super(scope, id);
    const source = props.source;
    const tag = props.tag ?? source?._defaultTag;
    const totalTimeout = props.totalTimeout ?? Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS);

    const p = new ValidationProblems('TenantImport');
    if (source === undefined) {
      p.add('source', undefined, 'an ImageSource, e.g. ImageSource.fromRegistry("docker.io/library/nginx:1.27")');
    }
    if (tag === undefined) {
      p.add('tag', undefined, 'a tag for the tenant repository: the source is given by digest only, so name the tag to write');
    } else {
      checkImageTag(p, 'tag', tag);
    }
    if (props.expectedDigest !== undefined) {
      checkDigest(p, 'expectedDigest', props.expectedDigest);
      if (source?._byDigest) {
        p.add('expectedDigest', props.expectedDigest, 'only with a source given by tag: a source given by digest is pinned already');
      }
    }
    if (props.releaseId !== undefined && !isToken(props.releaseId) && !RELEASE_ID.test(props.releaseId)) {
      p.add('releaseId', props.releaseId, '1-64 characters of letters, digits and _+=,.@- (it becomes part of the STS session name)');
    }
    checkWholeSeconds(p, 'totalTimeout', totalTimeout, 300, DEFAULT_TOTAL_TIMEOUT_SECONDS,
      'between 5 minutes and 1 hour (CloudFormation waits at most 1 hour for a custom resource)', undefined, (_, seconds) => `${seconds} seconds`);
    if (props.provider !== undefined && Stack.of(props.provider) !== Stack.of(this)) {
      p.add('provider', props.provider.node.path, `a provider of this TenantImport's stack ${Stack.of(this).node.path}`);
    }
    p.throwIfAny();

    this.provider = props.provider ?? ImageSyncProvider.of(this);
    this.syncFunction = this.provider.function;
    this.resource = createSyncResource(this, {
      provider: this.provider,
      source,
      destination: ImageSyncDestination.fromEcr(props.repository),
      destinationTag: tag!,
      removeOnDelete: false,
      totalTimeout,
      releaseId: props.releaseId,
      expectedSourceDigest: props.expectedDigest,
      copyReferrers: props.copyReferrers,
    });

    this.imageDigest = this.resource.getAttString(Attributes.IMAGE_DIGEST);
    this.repositoryUri = props.repository.repositoryUri;
    this.imageUri = Fn.join('', [props.repository.repositoryUri, '@', this.imageDigest]);
    this.imageTag = tag!;
  }
}
