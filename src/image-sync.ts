import { Annotations, CustomResource, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ImageSource } from './image-source';
import { Attributes, DEFAULT_TOTAL_TIMEOUT_SECONDS, SourceKinds } from './image-sync-contract';
import { ImageSyncDestination } from './image-sync-destination';
import { ImageSyncProvider } from './image-sync-provider';
import { platformProblem } from './platform';
import { COMPONENT_GRAMMAR, componentFromId, familyTag, isComponent, MAX_COMPONENT_LENGTH } from './private/release-family';
import { createSyncResource } from './private/sync-resource';
import { checkImageTag, checkWholeSeconds, isToken, ValidationProblems } from './private/validation';
import { SignatureVerification } from './signature-verification';

/**
 * Properties of an `ImageSync`.
 */
export interface ImageSyncProps {
  /**
   * The image to copy.
   */
  readonly source: ImageSource;

  /**
   * The repository to copy it into.
   */
  readonly destination: ImageSyncDestination;

  /**
   * The release family this sync owns in its destination repository: it writes the tag
   * `<component>_<tag>`, and an `InstallRepository`'s default lifecycle policy counts and keeps
   * releases per component. Lower-case letters and digits joined by single `-` or `.`, at most 63
   * characters (never `_`, so one family's tags never match another's pattern). Two syncs into
   * one repository need different components.
   *
   * @default - from the construct id: `ApiServer` gives `api-server`
   */
  readonly component?: string;

  /**
   * The release tag within the component's family: the destination tag is `<component>_<tag>`
   * (at most 128 characters in all).
   *
   * @default - the source tag; required when the source is given by digest only
   */
  readonly tag?: string;

  /**
   * Platforms to copy from a multi-platform image, e.g. `[ecr_assets.Platform.LINUX_ARM64]`. When a
   * subset is chosen the destination gets a new index listing only those platforms (with its own
   * digest).
   *
   * @default - all platforms, the index is copied byte for byte
   */
  readonly platforms?: ecr_assets.Platform[];

  /**
   * A release id. Changing it runs the sync again (a no-op when the destination is up to date) and
   * it names the pull session in the tenant account's CloudTrail.
   *
   * @default - no release id
   */
  readonly releaseId?: string;

  /**
   * Delete the destination tag when this resource is deleted (or replaced by another tag), but only
   * if the tag still points at the digest this resource copied. Off by default: running
   * workloads may still pull the image.
   *
   * @default false
   */
  readonly removeOnDelete?: boolean;

  /**
   * The time budget of one Create or Update, across as many function invocations as the copy needs.
   * At most one hour, CloudFormation's limit for custom resources.
   *
   * @default Duration.hours(1)
   */
  readonly totalTimeout?: Duration;

  /**
   * Copy the image's referrers with it: signatures, SBOMs and attestations of the image and of
   * each platform manifest (OCI 1.1 referrers, the referrers tag schema, cosign's
   * `sha256-<hex>.sig|.att|.sbom` tags), so that the install can verify what it runs. They are
   * written before the tag moves.
   *
   * @default true
   */
  readonly copyReferrers?: boolean;

  /**
   * The signatures the source digest must carry before the destination tag is written, e.g.
   * `SignatureVerification.cosignKeys([vendorPublicKeyPem])` or
   * `SignatureVerification.sigstore({ identities: [{ issuer, subject }] })`. Without one that verifies, nothing
   * is copied and the deployment fails, naming the image, the policy and what was found.
   *
   * @default - no verification: any image the source holds is copied
   */
  readonly verification?: SignatureVerification;

  /**
   * The provider whose function runs the copy: give one to choose memory, log retention, VPC
   * placement or the function's role. It must belong to this stack.
   *
   * @default - the stack's shared provider, `ImageSyncProvider.of(this)`
   */
  readonly provider?: ImageSyncProvider;
}

const RELEASE_ID = /^[\w+=,.@-]{1,64}$/;

/**
 * Copies one image (or any OCI artifact) into an install account's repository by digest, on every
 * deployment that changes the source, tag or release id.
 *
 * A CloudFormation custom resource (`Custom::ImageSync`) run by an `ImageSyncProvider` (by default
 * one per stack). Create and Update copy (a no-op when the destination already holds the digest
 * under the tag; the tag moves only after everything under it has been copied). Delete keeps the
 * image unless `removeOnDelete` is set.
 */
export class ImageSync extends Construct {
  /**
   * The digest of the image at the destination (`sha256:...`).
   */
  public readonly imageDigest: string;

  /**
   * The digest-pinned image, `<repositoryUri>@<digest>`.
   */
  public readonly imageUri: string;

  /**
   * The tag written at the destination, `<component>_<tag>`.
   */
  public readonly imageTag: string;

  /**
   * The release family this sync owns in its destination repository.
   */
  public readonly component: string;

  /**
   * The destination repository's URI.
   */
  public readonly repositoryUri: string;

  /**
   * For a Helm chart: its repository as Helm names it, `oci://<repositoryUri>`.
   */
  public readonly chartRepositoryUrl: string;

  /**
   * For a Helm chart: the digest-pinned chart for `helm install NAME <chartReference>` (or
   * `helm pull`), `oci://<repositoryUri>@<digest>`. The destination tag is `<component>_<tag>`,
   * not a chart version Helm's `--version` would find: install by digest.
   */
  public readonly chartReference: string;

  /**
   * The custom resource.
   */
  public readonly resource: CustomResource;

  /**
   * The provider that runs the copy.
   */
  public readonly provider: ImageSyncProvider;

  /**
   * The provider's sync function (shared by every `ImageSync` using the provider).
   */
  public readonly syncFunction: lambda.IFunction;

  private readonly destination: ImageSyncDestination;

  constructor(scope: Construct, id: string, props: ImageSyncProps) {
    super(scope, id);

    const tag = props.tag ?? props.source._defaultTag;
    const component = props.component ?? componentFromId(id);
    const totalTimeout = props.totalTimeout ?? Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS);
    const p = new ValidationProblems('ImageSync');
    if (tag === undefined) {
      p.add('tag', undefined, 'a destination tag: the source is given by digest only, so name the tag to write');
    } else {
      checkImageTag(p, 'tag', tag);
    }
    if (component === undefined) {
      p.add('component', undefined, `a component name: none can be derived from the construct id ${JSON.stringify(id)} (${COMPONENT_GRAMMAR})`);
    } else if (isToken(component) || !isComponent(component)) {
      p.add('component', isToken(component) ? '<token>' : component, `a concrete name of ${COMPONENT_GRAMMAR}`);
    } else if (tag !== undefined && !isToken(tag) && familyTag(component, tag).length > 128) {
      p.add('tag', tag, `at most ${128 - component.length - 1} characters with component ${JSON.stringify(component)}: `
        + `the destination tag ${JSON.stringify(familyTag(component, tag).slice(0, 40) + '...')} is limited to 128 (components are at most ${MAX_COMPONENT_LENGTH})`);
    }
    for (const platform of props.platforms ?? []) {
      if (!isToken(platform.platform) && platformProblem(platform.platform) !== undefined) {
        p.add('platforms', platform.platform, 'os/architecture[/variant], e.g. "linux/amd64" or "linux/arm64/v8"');
      }
    }
    if (props.platforms !== undefined && !isToken(props.platforms) && props.platforms.length === 0) {
      p.add('platforms', props.platforms, 'at least one platform, or leave platforms out to copy all of them');
    }
    const pushed = props.source?._kind === SourceKinds.HELM_REPOSITORY || props.source?._kind === SourceKinds.OCI_ARCHIVE;
    if (pushed && props.platforms !== undefined) {
      p.add('platforms', props.platforms.map((x) => x.platform),
        'no platforms with a Helm repository or archive source: its artifact is pushed as it is (choose the platforms when the archive is made)');
    }
    if (pushed && props.verification !== undefined) {
      p.add('verification', '<SignatureVerification>',
        'no verification with a Helm repository or archive source: only a registry source carries signatures '
        + '(a Helm repository source is checked against its index, an archive against the digest recorded at synth)');
    }
    if (props.releaseId !== undefined && !isToken(props.releaseId) && !RELEASE_ID.test(props.releaseId)) {
      p.add('releaseId', props.releaseId, '1-64 characters of letters, digits and _+=,.@- (it becomes part of the STS session name)');
    }
    checkWholeSeconds(p, 'totalTimeout', totalTimeout, 300, DEFAULT_TOTAL_TIMEOUT_SECONDS,
      'between 5 minutes and 1 hour (CloudFormation waits at most 1 hour for a custom resource)', undefined, (_, seconds) => `${seconds} seconds`);
    if (props.provider !== undefined && Stack.of(props.provider) !== Stack.of(this)) {
      p.add('provider', props.provider.node.path,
        `a provider of this ImageSync's stack ${Stack.of(this).node.path} (its function's role is granted this sync's source and destination)`);
    }
    const conflict = component !== undefined && p.isEmpty ? props.destination._familyConflict(this, component) : undefined;
    if (conflict !== undefined) {
      p.add('component', component, conflict);
    }
    p.throwIfAny();
    this.component = component!;
    const destinationTag = familyTag(this.component, tag!);
    props.destination._claimFamily(this, this.component, destinationTag);

    const provider = props.provider ?? ImageSyncProvider.of(this);
    this.provider = provider;
    this.syncFunction = provider.function;
    this.destination = props.destination;

    this.resource = createSyncResource(this, {
      provider,
      source: props.source,
      destination: props.destination,
      destinationTag,
      removeOnDelete: props.removeOnDelete ?? false,
      totalTimeout,
      platforms: props.platforms?.map((platform) => platform.platform),
      releaseId: props.releaseId,
      copyReferrers: props.copyReferrers ?? true,
      verificationPublicKeys: props.verification && props.verification._publicKeys.length > 0 ? props.verification._publicKeys : undefined,
      verificationSigstore: props.verification && props.verification._identities.length > 0
        ? { identities: props.verification._identities, trustedRoot: props.verification._trustedRootJson }
        : undefined,
    });
    if (props.verification !== undefined && props.copyReferrers === false) {
      Annotations.of(this).addWarningV2('cdk-byoc-artifacts:signaturesNotCopied',
        'verification is set but copyReferrers is false: the sync checks the signatures in the source, but the install '
        + 'repository will not hold them, so nobody in the install can verify the image again (cosign verify). Leave copyReferrers on.');
    }

    const repository = props.destination.repository;
    this.imageDigest = this.resource.getAttString(Attributes.IMAGE_DIGEST);
    // What runs is built here from the destination repository and the tag; only the digest comes
    // from the handler's answer (a forged answer cannot point a workload at another repository).
    this.repositoryUri = repository.repositoryUri;
    this.imageUri = Fn.join('', [repository.repositoryUri, '@', this.imageDigest]);
    this.imageTag = destinationTag;
    this.chartRepositoryUrl = Fn.join('', ['oci://', repository.repositoryUri]);
    this.chartReference = Fn.join('', ['oci://', repository.repositoryUri, '@', this.imageDigest]);
  }

  /**
   * The copied image for ECS, pinned by digest. A task definition using it is granted pull on the
   * destination repository through its execution role.
   */
  public containerImage(): ecs.ContainerImage {
    return new DigestPinnedImage(this.destination, this.imageDigest);
  }

  /**
   * Grants pull on the destination repository (for consumers outside ECS: EKS nodes, Helm).
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.destination.grantPull(grantee);
  }
}

/** A digest-pinned ECR image for ECS. `ContainerImage.fromEcrRepository` cannot tell a digest token from a tag token. */
class DigestPinnedImage extends ecs.ContainerImage {
  constructor(private readonly destination: ImageSyncDestination, private readonly digest: string) {
    super();
  }

  public bind(_scope: Construct, containerDefinition: ecs.ContainerDefinition): ecs.ContainerImageConfig {
    this.destination.grantPull(containerDefinition.taskDefinition.obtainExecutionRole());
    return { imageName: this.destination.repository.repositoryUriForDigest(this.digest) };
  }
}
