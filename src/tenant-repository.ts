import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import { ECR_CROSS_ACCOUNT_PULL_ACTIONS } from './private/perms';
import {
  checkSecureRepositoryProps, importRepositoryByAttributes, importRepositoryByName, SecureRepositoryBase,
} from './private/secure-repository';
import { checkAccountId, checkNonEmpty, checkOrganizationId, isToken, ValidationProblems } from './private/validation';
import { SecureRepositoryProps } from './repository-props';
import { TenantBundle, TenantBundleOptions } from './tenant-bundle';
import { TenantChart, TenantChartOptions } from './tenant-chart';
import { TenantImage, TenantImageSource } from './tenant-image';
import { TenantImport, TenantImportOptions } from './tenant-import';

/**
 * Properties of a {@link TenantRepository}.
 */
export interface TenantRepositoryProps extends SecureRepositoryProps {
  /**
   * The repository's lifecycle policy (see `LifecyclePolicy`).
   *
   * @default - no lifecycle policy, unless `lifecycleRules` or `addLifecycleRule()` add rules
   */
  readonly lifecyclePolicy?: LifecyclePolicy;

  /**
   * Lifecycle rules in evaluation order, after the rules of `lifecyclePolicy` (see
   * `lifecyclePolicy()` for the whole order).
   *
   * @default - no lifecycle rules
   */
  readonly lifecycleRules?: LifecyclePolicyRule[];
}

/**
 * Options of {@link TenantRepository.grantCrossAccountPull}.
 */
export interface CrossAccountPullOptions {
  /**
   * Only principals of this AWS Organization (`aws:PrincipalOrgID`, e.g. `o-a1b2c3d4e5`) may pull.
   *
   * @default - any principal of the named accounts that its own account's IAM allows
   */
  readonly principalOrgId?: string;
}

/**
 * Options of {@link TenantRepository.addImage}: a Docker build and the tag it lands under.
 */
export interface TenantDockerImageOptions extends ecr_assets.DockerImageAssetOptions {
  /** The build context: a directory with a Dockerfile (or `file`). */
  readonly directory: string;

  /**
   * The tag of the image in the repository. See {@link TenantImageProps.tag}.
   *
   * @default - the asset hash
   */
  readonly tag?: string;
}

/**
 * Options of {@link TenantRepository.addTarball}: a `docker save` tarball and the tag it lands under.
 */
export interface TenantTarballImageOptions {
  /** Absolute path of the tarball. */
  readonly tarballFile: string;

  /**
   * The tag of the image in the repository. See {@link TenantImageProps.tag}.
   *
   * @default - the asset hash
   */
  readonly tag?: string;
}

/**
 * The vendor's (tenant's) ECR repository of component artifacts: images and OCI artifacts that
 * installs copy into their own accounts. An `ecr.IRepository` itself: pass it wherever aws-cdk-lib
 * expects one (`repository` is the inner `ecr.Repository`).
 *
 * Secure defaults: immutable tags (with optional mutable patterns), scan on push, AES256 or a
 * customer KMS key, retained on stack deletion.
 *
 * Grants: `grantPull`, `grantPush`, `grantPullPush`, `grantRead` (aws-cdk-lib's:
 * `ecr:DescribeRepositories`, `ecr:DescribeImages`), `grant`, and `grantCrossAccountPull` for the
 * repository-policy alternative to `EcrAccessRole`.
 */
export class TenantRepository extends SecureRepositoryBase {
  /**
   * Imports an existing repository of this account and region by name.
   */
  public static fromRepositoryName(scope: Construct, id: string, repositoryName: string): ecr.IRepository {
    return importRepositoryByName('TenantRepository', scope, id, repositoryName);
  }

  /**
   * Imports an existing repository by name and ARN (of any account or region).
   */
  public static fromRepositoryAttributes(scope: Construct, id: string, attrs: ecr.RepositoryAttributes): ecr.IRepository {
    return importRepositoryByAttributes('TenantRepository', scope, id, attrs);
  }

  private readonly tags = new Map<string, string>();

  constructor(scope: Construct, id: string, props: TenantRepositoryProps = {}) {
    const problems = new ValidationProblems('TenantRepository');
    checkSecureRepositoryProps(problems, props);
    problems.throwIfAny();
    super(scope, id, props, { construct: 'TenantRepository', lifecyclePolicy: props.lifecyclePolicy, lifecycleRules: props.lifecycleRules });
  }

  /**
   * Allows the named accounts to pull through the repository policy: the alternative to
   * `EcrAccessRole` for vendors who prefer resource policies.
   *
   * The statement allows exactly `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`,
   * `ecr:BatchCheckLayerAvailability`, `ecr:DescribeImages`, `ecr:ListImages` and
   * `ecr:DescribeRepositories` to the accounts' principals. Each account still grants its own
   * principals these actions and `ecr:GetAuthorizationToken` in IAM.
   *
   * @param accountIds the 12-digit ids of the accounts that may pull
   */
  public grantCrossAccountPull(accountIds: string[], options: CrossAccountPullOptions = {}): iam.AddToResourcePolicyResult {
    const problems = new ValidationProblems('TenantRepository.grantCrossAccountPull');
    checkNonEmpty(problems, 'accountIds', accountIds);
    if (Array.isArray(accountIds) && !isToken(accountIds)) {
      accountIds.forEach((a, i) => checkAccountId(problems, `accountIds[${i}]`, a));
    }
    if (options.principalOrgId !== undefined) {
      checkOrganizationId(problems, 'principalOrgId', options.principalOrgId);
    }
    problems.throwIfAny();

    return this.repository.addToResourcePolicy(new iam.PolicyStatement({
      principals: accountIds.map((a) => new iam.AccountPrincipal(a)),
      actions: ECR_CROSS_ACCOUNT_PULL_ACTIONS,
      conditions: options.principalOrgId ? { StringEquals: { 'aws:PrincipalOrgID': options.principalOrgId } } : undefined,
    }));
  }

  /**
   * Builds an image from a Dockerfile directory and copies it into this repository.
   *
   * @param id construct id of the image
   * @param options the build (`directory`, `file`, `buildArgs`, `platform`, `target`, ...) and the `tag`
   */
  public addImage(id: string, options: TenantDockerImageOptions): TenantImage {
    const { directory, tag, ...build } = options;
    return this.addSource(id, TenantImageSource.fromDirectory(directory, build), tag);
  }

  /**
   * Loads an image from a `docker save` tarball and copies it into this repository.
   *
   * @param id construct id of the image
   * @param options the `tarballFile` and the `tag`
   */
  public addTarball(id: string, options: TenantTarballImageOptions): TenantImage {
    return this.addSource(id, TenantImageSource.fromTarball(options.tarballFile), options.tag);
  }

  /**
   * Imports a third-party image (public, or private behind credentials or an access role) into this
   * repository at deploy time, pinned to a digest: give the source by digest, or by tag with an
   * `expectedDigest` that fails the release when the upstream tag has moved. Installs then sync it
   * from here like any other component.
   *
   * @param id construct id of the import
   * @param options the `source`, the `tag` it lands under and the `expectedDigest`
   */
  public importImage(id: string, options: TenantImportOptions): TenantImport {
    const tag = options.tag ?? options.source?._defaultTag;
    if (tag !== undefined) {
      this.checkTagUnused(tag, 'TenantImport');
    }
    const imported = new TenantImport(this, id, { ...options, repository: this });
    this.tags.set(imported.imageTag, id);
    return imported;
  }

  /**
   * Packs a Helm chart from source (a chart directory or a packaged `.tgz`) at synth time into
   * Helm's OCI artifact and pushes it into this repository at deploy time, under the chart version
   * (`+` as `_`), pinned to the digest computed at synth. No helm and no docker are needed.
   *
   * @param id construct id of the chart
   * @param options the chart `directory` (or `.tgz`)
   */
  public addChart(id: string, options: TenantChartOptions): TenantChart {
    const chart = new TenantChart(this, id, { ...options, repository: this });
    this.checkTagUnused(chart.imageTag, 'TenantChart');
    this.tags.set(chart.imageTag, id);
    return chart;
  }

  /**
   * Packs files (a directory or a list) at synth time into an OCI artifact with an `artifactType`,
   * in the layout ORAS writes, and pushes it into this repository at deploy time under the `tag`,
   * pinned to the digest computed at synth.
   *
   * @param id construct id of the bundle
   * @param options the `directory` or `files`, the `artifactType` and the `tag`
   */
  public addBundle(id: string, options: TenantBundleOptions): TenantBundle {
    if (typeof options.tag === 'string') {
      this.checkTagUnused(options.tag, 'TenantBundle');
    }
    const bundle = new TenantBundle(this, id, { ...options, repository: this });
    this.tags.set(bundle.imageTag, id);
    return bundle;
  }

  private addSource(id: string, source: TenantImageSource, tag: string | undefined): TenantImage {
    if (tag !== undefined) {
      this.checkTagUnused(tag);
    }
    const image = new TenantImage(this, id, { repository: this, source, tag });
    if (tag === undefined) {
      // The default tag is the content hash: the same build added twice.
      this.checkTagUnused(image.imageTag);
    }
    this.tags.set(image.imageTag, id);
    return image;
  }

  private checkTagUnused(tag: string, construct = 'TenantImage'): void {
    const owner = this.tags.get(tag);
    if (owner === undefined || isToken(tag)) return;
    const problems = new ValidationProblems(construct);
    problems.add('tag', tag, `a tag no other image of this repository uses (image "${owner}" has it, and tags are immutable)`);
    problems.throwIfAny();
  }
}
