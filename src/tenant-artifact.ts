import { CustomResource, Duration } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3_assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { OciArtifact } from './artifacts/oci';
import { ImageSyncProvider } from './image-sync-provider';
import { ArchiveSync, createArchiveSync } from './private/archive-sync';

/**
 * The deploy-time options of an artifact packed at synth time and pushed into a tenant repository
 * (`TenantRepository.addChart`, `addBundle`).
 */
export interface TenantArtifactOptions {
  /**
   * A release id. Changing it runs the push again (a no-op when the repository holds the artifact
   * under the tag).
   *
   * @default - no release id
   */
  readonly releaseId?: string;

  /**
   * The time budget of one Create or Update. At most one hour.
   *
   * @default Duration.hours(1)
   */
  readonly totalTimeout?: Duration;

  /**
   * The provider whose function runs the push. It must belong to this stack.
   *
   * @default - the stack's shared provider, `ImageSyncProvider.of(this)`
   */
  readonly provider?: ImageSyncProvider;
}

/**
 * An artifact packed at synth time and pushed into a tenant repository: what {@link TenantChart}
 * and {@link TenantBundle} have in common. The artifact travels as an `oci-archive` file asset;
 * at deploy time the `ImageSync` function pushes it under its tag, pinned to the digest computed
 * at synth.
 *
 * Create and Update push (a no-op when the tag already names the digest); Delete keeps the
 * artifact. Only this library's constructs extend it.
 */
export abstract class TenantArtifact extends Construct {
  private pushed?: ArchiveSync;

  protected constructor(scope: Construct, id: string) {
    super(scope, id);
  }

  /** The artifact's digest (`sha256:...`), from the custom resource: the digest computed at synth. */
  public get imageDigest(): string {
    return this.sync.imageDigest;
  }

  /** `<repositoryUri>@<imageDigest>`, e.g. for `oras pull` or `helm pull oci://...`. */
  public get imageUri(): string {
    return this.sync.imageUri;
  }

  /** The tag written: a chart's version with `+` as `_` (as Helm tags it), a bundle's `tag`. */
  public get imageTag(): string {
    return this.sync.imageTag;
  }

  /** The tenant repository's URI. */
  public get repositoryUri(): string {
    return this.sync.repositoryUri;
  }

  /** The file asset holding the artifact's `oci-archive` (its OCI image layout as one tar file). */
  public get asset(): s3_assets.Asset {
    return this.sync.asset;
  }

  /** The custom resource that pushes the artifact. */
  public get resource(): CustomResource {
    return this.sync.resource;
  }

  /** The provider that runs the push. */
  public get provider(): ImageSyncProvider {
    return this.sync.provider;
  }

  /** The provider's sync function. */
  public get syncFunction(): lambda.IFunction {
    return this.sync.provider.function;
  }

  /**
   * Stages the packed artifact and adds the resource that pushes it. Called once, by the
   * subclass's constructor, after every prop is validated.
   *
   * @internal
   */
  protected _push(repository: ecr.IRepository, artifact: OciArtifact, archive: Buffer, tag: string, options: TenantArtifactOptions): void {
    this.pushed = createArchiveSync(this, repository, artifact, archive, tag, options);
  }

  private get sync(): ArchiveSync {
    if (!this.pushed) {
      throw new Error(`${this.node.path}: the artifact is read before it is pushed; a TenantArtifact calls _push in its constructor`);
    }
    return this.pushed;
  }
}
