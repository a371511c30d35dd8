import { Annotations, ArnFormat, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DockerImageName, ECRDeployment } from 'cdk-ecr-deployment';
import { Construct, IConstruct } from 'constructs';
import { attachLifecyclePolicy } from './lifecycle/attach';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import { ECR_AUTH_ACTIONS, ECR_CROSS_ACCOUNT_PULL_ACTIONS, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS } from './private/perms';
import { checkSecureRepositoryProps, createSecureRepository } from './private/secure-repository';
import {
  ValidationProblems, checkAccountId, checkArn, checkImageTag, checkNonEmpty, checkOrganizationId, checkRepositoryName, isToken,
} from './private/validation';
import { SecureRepositoryProps } from './repository-props';

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
 * Where an image of a {@link TenantImage} comes from: a Docker build or a tarball, both
 * published as CDK assets first.
 */
export abstract class TenantImageSource {
  /**
   * Builds the image from a directory with a Dockerfile (a `DockerImageAsset`).
   *
   * @param directory the build context, with the Dockerfile (or `options.file`)
   * @param options build options: `file`, `buildArgs`, `platform`, `target`, ...
   */
  public static fromDirectory(directory: string, options: ecr_assets.DockerImageAssetOptions = {}): TenantImageSource {
    return new DirectorySource(directory, options);
  }

  /**
   * Loads the image from a `docker save` tarball (a `TarballImageAsset`).
   *
   * @param tarballFile absolute path of the tarball
   */
  public static fromTarball(tarballFile: string): TenantImageSource {
    return new TarballSource(tarballFile);
  }

  /**
   * Creates the asset under `scope` and describes the published image.
   */
  public abstract bind(scope: Construct): TenantImageSourceConfig;
}

/**
 * The published asset image that a {@link TenantImage} copies.
 */
export interface TenantImageSourceConfig {
  /** The asset image's URI, `<account>.dkr.ecr.<region>.amazonaws.com/<asset repository>:<asset tag>`. */
  readonly imageUri: string;
  /** The CDK asset repository holding the image. */
  readonly repository: ecr.IRepository;
  /** The asset's content hash: the default tag of the copy. */
  readonly assetHash: string;
  /**
   * The CPU architecture of the image (`amd64`, `arm64`), when the build names a platform.
   *
   * @default - the image is copied as built (a single-platform image has only one)
   */
  readonly architecture?: string;
}

class DirectorySource extends TenantImageSource {
  constructor(private readonly directory: string, private readonly options: ecr_assets.DockerImageAssetOptions) {
    super();
  }

  public bind(scope: Construct): TenantImageSourceConfig {
    const asset = new ecr_assets.DockerImageAsset(scope, 'Asset', { ...this.options, directory: this.directory });
    const platform = this.options.platform?.platform;
    return {
      imageUri: asset.imageUri,
      repository: asset.repository,
      assetHash: asset.assetHash,
      architecture: platform ? platform.split('/')[1] : undefined,
    };
  }
}

class TarballSource extends TenantImageSource {
  constructor(private readonly tarballFile: string) {
    super();
  }

  public bind(scope: Construct): TenantImageSourceConfig {
    const asset = new ecr_assets.TarballImageAsset(scope, 'Asset', { tarballFile: this.tarballFile });
    return { imageUri: asset.imageUri, repository: asset.repository, assetHash: asset.assetHash };
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

// cdk-ecr-deployment keys its singleton handler on the memory size: a size other stacks rarely
// use keeps this handler (and its scoped role) apart from other ECRDeployment users'.
const COPY_MEMORY_MIB = 1024;
// The id of its handler: the lambda purpose and the slug of its singleton uuid (4.2.x).
const COPY_HANDLER_UUID_SLUG = `bd07c930edb94112a20f03f096f53666${COPY_MEMORY_MIB}MiB`;
const COPY_ROLE_ID = 'ByocArtifactsImageCopyRole';

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

    const source = props.source.bind(this);
    this.imageTag = props.tag ?? source.assetHash;
    this.imageUri = props.repository.repositoryUriForTag(this.imageTag);
    this.sourceImageUri = source.imageUri;

    const copyRole = ImageCopyRole.of(this);
    copyRole.allow(source.repository, props.repository);

    const deployment = new ECRDeployment(this, 'Deployment', {
      src: new DockerImageName(source.imageUri),
      dest: new DockerImageName(this.imageUri),
      imageArch: source.architecture ? [source.architecture] : undefined,
      memoryLimit: COPY_MEMORY_MIB,
      // An immutable view: ECRDeployment adds ECR and S3 actions on '*' to whatever role it gets;
      // the real role holds only the grants made above.
      role: copyRole.immutableRole,
    });
    copyRole.attachTo(deployment);
    this.deployment = deployment;
  }
}

/**
 * The one role per stack that cdk-ecr-deployment's singleton handler runs with.
 */
class ImageCopyRole extends Construct {
  public static of(scope: IConstruct): ImageCopyRole {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(COPY_ROLE_ID);
    return existing instanceof ImageCopyRole ? existing : new ImageCopyRole(stack, COPY_ROLE_ID);
  }

  public readonly role: iam.Role;
  public readonly immutableRole: iam.IRole;
  private readonly granted = new Set<string>();
  private handler?: lambda.IFunction;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies CDK-built images from the asset repository into tenant repositories (cdk-ecr-deployment)',
    });
    this.immutableRole = this.role.withoutPolicyUpdates();
    // IAM accepts no other resource for this action: the token is for the registry.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ECR_AUTH_ACTIONS, resources: ['*'] }));
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken is the only action on "*": IAM accepts no other resource for it. ' +
        'Pull (asset repository) and push (tenant repositories) are granted on the repositories\' ARNs.',
    });
  }

  /** Pull from the asset repository, pull and push on the destination (never anything else). */
  public allow(from: ecr.IRepository, to: ecr.IRepository): void {
    this.grantOnce(from, ECR_PULL_ACTIONS);
    // Pull on the destination too: the copy checks which layers and manifests are already there.
    this.grantOnce(to, [...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS]);
  }

  /** Lets the handler write its logs (to its own log group only) before any copy runs. */
  public attachTo(deployment: ECRDeployment): void {
    const handlers = Stack.of(this).node.children.filter((c): c is lambda.Function =>
      c instanceof lambda.Function && c.node.id === `Custom::CDKECRDeployment${COPY_HANDLER_UUID_SLUG}`);
    const handler = handlers.find((h) => h.role === this.immutableRole);
    if (!handler) {
      Annotations.of(deployment).addWarningV2('@cdk-byoc-artifacts/tenant-image:sharedHandler', handlers.length > 0
        ? `This stack already has a cdk-ecr-deployment handler with ${COPY_MEMORY_MIB} MiB and its own role: ` +
          'images are copied with that role\'s permissions, not with the scoped role of TenantImage. ' +
          'Give the other ECRDeployment another memoryLimit.'
        : 'The cdk-ecr-deployment handler was not found in the stack (a cdk-ecr-deployment version with other ' +
          'construct ids?): its permission to write logs was not added.');
      return;
    }
    if (!this.handler) {
      this.handler = handler;
      const logs = new iam.Policy(this, 'LogsPolicy', {
        statements: [new iam.PolicyStatement({
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [Stack.of(this).formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: `/aws/lambda/${handler.functionName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          })],
        })],
      });
      this.role.attachInlinePolicy(logs);
      // cdk-nag names the finding after the rendered ARN, with references as <LogicalId>.
      const stack = Stack.of(this);
      const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
      const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
      const fn = stack.getLogicalId(handler.node.defaultChild as lambda.CfnFunction);
      Validations.of(logs).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${region}:${account}:log-group:/aws/lambda/<${fn}>:*]`,
        reason: 'Only the log streams of the copy handler\'s own log group: Lambda names the streams at run time.',
      });
    }
    // The copy (the custom resource) starts only when the handler may write its logs.
    deployment.node.addDependency(this.node.findChild('LogsPolicy'));
  }

  private grantOnce(repository: ecr.IRepository, actions: string[]): void {
    const key = `${repository.node.path} ${actions.join(',')}`;
    if (this.granted.has(key)) return;
    this.granted.add(key);
    repository.grant(this.role, ...actions);
  }
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
