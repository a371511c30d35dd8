import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { attachLifecyclePolicy } from './lifecycle/attach';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import { ECR_AUTH_ACTIONS, ECR_CROSS_ACCOUNT_PULL_ACTIONS, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS } from './private/perms';
import { checkSecureRepositoryProps, createSecureRepository } from './private/secure-repository';
import {
  ValidationProblems, checkAccountId, checkArn, checkNonEmpty, checkOrganizationId, checkRepositoryName, isToken,
} from './private/validation';
import { SecureRepositoryProps } from './repository-props';
import { TenantImage, TenantImageSource } from './tenant-image';

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
   * Lifecycle rules in evaluation order (after the rules of `lifecyclePolicy` when both are given).
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
 * installs copy into their own accounts.
 *
 * Secure defaults: immutable tags (with optional mutable patterns), scan on push, AES256 or a
 * customer KMS key, retained on stack deletion.
 */
export class TenantRepository extends Construct {
  /**
   * Imports an existing repository of this account and region by name.
   */
  public static fromRepositoryName(scope: Construct, id: string, repositoryName: string): ecr.IRepository {
    const problems = new ValidationProblems('TenantRepository.fromRepositoryName');
    checkRepositoryName(problems, 'repositoryName', repositoryName);
    problems.throwIfAny();
    return ecr.Repository.fromRepositoryName(scope, id, repositoryName);
  }

  /**
   * Imports an existing repository by name and ARN (of any account or region).
   */
  public static fromRepositoryAttributes(scope: Construct, id: string, attrs: ecr.RepositoryAttributes): ecr.IRepository {
    const problems = new ValidationProblems('TenantRepository.fromRepositoryAttributes');
    checkRepositoryName(problems, 'repositoryName', attrs.repositoryName);
    checkArn(problems, 'repositoryArn', attrs.repositoryArn, { service: 'ecr', resourceType: 'repository' });
    problems.throwIfAny();
    return ecr.Repository.fromRepositoryAttributes(scope, id, attrs);
  }

  /** The underlying ECR repository. */
  public readonly repository: ecr.IRepository;
  /** The repository's name. */
  public readonly repositoryName: string;
  /** The repository's ARN. */
  public readonly repositoryArn: string;
  /** The repository's URI: `<account>.dkr.ecr.<region>.amazonaws.com/<name>`. */
  public readonly repositoryUri: string;
  /**
   * The customer managed key encrypting the images.
   *
   * @default - AES256
   */
  public readonly encryptionKey?: kms.IKey;

  private readonly tags = new Map<string, string>();
  private readonly lifecycleBase?: LifecyclePolicy;
  private readonly lifecycleRules: LifecyclePolicyRule[];

  constructor(scope: Construct, id: string, props: TenantRepositoryProps = {}) {
    super(scope, id);
    const problems = new ValidationProblems('TenantRepository');
    checkSecureRepositoryProps(problems, props);
    problems.throwIfAny();

    const repository = createSecureRepository(this, props);
    this.repository = repository;
    this.repositoryName = repository.repositoryName;
    this.repositoryArn = repository.repositoryArn;
    this.repositoryUri = repository.repositoryUri;
    this.encryptionKey = props.encryptionKey;

    this.lifecycleBase = props.lifecyclePolicy;
    this.lifecycleRules = [...(props.lifecycleRules ?? [])];
    attachLifecyclePolicy(this, 'TenantRepository', repository.node.defaultChild as ecr.CfnRepository, () => {
      if (this.lifecycleBase) {
        return this.lifecycleBase.withRules(this.lifecycleRules);
      }
      return this.lifecycleRules.length > 0 ? LifecyclePolicy.fromRules(this.lifecycleRules) : undefined;
    });
  }

  /**
   * Adds a lifecycle rule, evaluated after the rules configured so far.
   */
  public addLifecycleRule(rule: LifecyclePolicyRule): void {
    this.lifecycleRules.push(rule);
  }

  /**
   * Grants pulling images: `ecr:BatchCheckLayerAvailability`, `ecr:GetDownloadUrlForLayer`,
   * `ecr:BatchGetImage` on this repository, and `ecr:GetAuthorizationToken` on `*`.
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.grantWithToken(grantee, ECR_PULL_ACTIONS);
  }

  /**
   * Grants pushing images: `ecr:BatchCheckLayerAvailability`, `ecr:BatchGetImage`,
   * `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`, `ecr:CompleteLayerUpload`, `ecr:PutImage` on
   * this repository, and `ecr:GetAuthorizationToken` on `*`.
   *
   * The set ECR documents for pushing: clients check which layers and manifests exist first.
   */
  public grantPush(grantee: iam.IGrantable): iam.Grant {
    return this.grantWithToken(grantee, ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', ...ECR_PUSH_ACTIONS]);
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
   * Adds a statement to the repository policy.
   */
  public addToResourcePolicy(statement: iam.PolicyStatement): iam.AddToResourcePolicyResult {
    return this.repository.addToResourcePolicy(statement);
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

  private addSource(id: string, source: TenantImageSource, tag: string | undefined): TenantImage {
    if (tag !== undefined) {
      this.checkTagUnused(tag);
    }
    const image = new TenantImage(this, id, { repository: this.repository, source, tag });
    if (tag === undefined) {
      // The default tag is the content hash: the same build added twice.
      this.checkTagUnused(image.imageTag);
    }
    this.tags.set(image.imageTag, id);
    return image;
  }

  private checkTagUnused(tag: string): void {
    const owner = this.tags.get(tag);
    if (owner === undefined || isToken(tag)) return;
    const problems = new ValidationProblems('TenantImage');
    problems.add('tag', tag, `a tag no other image of this repository uses (image "${owner}" has it, and tags are immutable)`);
    problems.throwIfAny();
  }

  private grantWithToken(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const grant = this.repository.grant(grantee, ...actions);
    // IAM accepts no other resource for this action: the token is for the registry.
    iam.Grant.addToPrincipal({ grantee, actions: ECR_AUTH_ACTIONS, resourceArns: ['*'] });
    return grant;
  }
}
