import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ECR_AUTH_ACTIONS, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS, ECR_PUSH_GRANT_ACTIONS } from './perms';
import { checkArn, checkRepositoryName, isToken, ValidationProblems } from './validation';
import { attachLifecyclePolicy } from '../lifecycle/attach';
import { LifecyclePolicy } from '../lifecycle/policy';
import { LifecyclePolicyRule } from '../lifecycle/rules';
import { SecureRepositoryProps } from '../repository-props';

const WILDCARD_FILTER = /^[0-9a-zA-Z._*-]{1,128}$/;

/** Adds every problem of the shared repository props to `problems`. */
export function checkSecureRepositoryProps(problems: ValidationProblems, props: SecureRepositoryProps): void {
  if (props.repositoryName !== undefined) {
    checkRepositoryName(problems, 'repositoryName', props.repositoryName);
  }
  const patterns = props.mutableTagPatterns ?? [];
  if (!isToken(patterns)) {
    patterns.forEach((pattern, i) => {
      if (isToken(pattern)) {
        return;
      }
      if (!WILDCARD_FILTER.test(pattern)) {
        problems.add(`mutableTagPatterns[${i}]`, pattern, 'an ECR wildcard filter is 1-128 characters of letters, digits, ".", "_", "-" and "*"');
      } else if (patterns.indexOf(pattern) !== i) {
        problems.add(`mutableTagPatterns[${i}]`, pattern, `a pattern not listed before (it is mutableTagPatterns[${patterns.indexOf(pattern)}])`);
      }
    });
  }
  if (props.emptyOnDelete && props.removalPolicy !== RemovalPolicy.DESTROY) {
    problems.add('emptyOnDelete', props.emptyOnDelete, `true only with removalPolicy RemovalPolicy.DESTROY (removalPolicy is ${props.removalPolicy ?? 'RETAIN'})`);
  }
}

/** The signature tag family: cosign's `sha256-<hex>.sig|.att|.sbom` tags and the referrers tag schema's index. */
export const SIGNATURE_TAG_PATTERN = 'sha256-*';

/** The tag patterns a repository keeps mutable: the given ones, and the signature tags unless turned off. */
export function mutablePatterns(props: SecureRepositoryProps): string[] {
  const patterns = props.mutableTagPatterns ?? [];
  if (isToken(patterns) || props.mutableSignatureTags === false || patterns.includes(SIGNATURE_TAG_PATTERN)) {
    return patterns;
  }
  return [...patterns, SIGNATURE_TAG_PATTERN];
}

/** Imports a repository by name after checking the name; `construct` names the class in messages. */
export function importRepositoryByName(construct: string, scope: Construct, id: string, repositoryName: string): ecr.IRepository {
  const problems = new ValidationProblems(`${construct}.fromRepositoryName`);
  checkRepositoryName(problems, 'repositoryName', repositoryName);
  problems.throwIfAny();
  return ecr.Repository.fromRepositoryName(scope, id, repositoryName);
}

/** Imports a repository by name and ARN after checking both; `construct` names the class in messages. */
export function importRepositoryByAttributes(construct: string, scope: Construct, id: string, attrs: ecr.RepositoryAttributes): ecr.IRepository {
  const problems = new ValidationProblems(`${construct}.fromRepositoryAttributes`);
  checkRepositoryName(problems, 'repositoryName', attrs.repositoryName);
  checkArn(problems, 'repositoryArn', attrs.repositoryArn, { service: 'ecr', resourceType: 'repository' });
  problems.throwIfAny();
  return ecr.Repository.fromRepositoryAttributes(scope, id, attrs);
}

/** What a repository construct configures beyond the shared props. */
export interface SecureRepositoryOptions {
  /** The construct's name in messages, e.g. 'InstallRepository'. */
  readonly construct: string;
  /** The lifecycle policy whose rules come first. */
  readonly lifecyclePolicy?: LifecyclePolicy;
  /** Rules evaluated after the policy's. */
  readonly lifecycleRules?: LifecyclePolicyRule[];
  /** Rules evaluated last, after every added rule: the catch-all of a default policy (read at synth). */
  readonly defaultRules?: () => LifecyclePolicyRule[];
  /** Rules evaluated before every other rule, whatever priorities those have (read at synth). */
  readonly leadingRules?: () => LifecyclePolicyRule[];
}

/**
 * What the tenant and install repositories share: an `ecr.IRepository` of their own (so they go
 * wherever aws-cdk-lib expects one), the secure defaults, the lifecycle rules and the grants.
 *
 * Extending `ecr.RepositoryBase` rather than forwarding each `ecr.IRepository` member to the inner
 * repository keeps URIs, events and cross-account grants exactly aws-cdk-lib's, including members
 * a later aws-cdk-lib adds. The inner repository stays exposed as `repository`. A hidden base:
 * jsii erases it and blends its members into each subclass.
 *
 * @internal
 */
export abstract class SecureRepositoryBase extends ecr.RepositoryBase {
  /** The underlying ECR repository. */
  public readonly repository: ecr.IRepository;
  /** The repository's name. */
  public readonly repositoryName: string;
  /** The repository's ARN. */
  public readonly repositoryArn: string;
  /**
   * The customer managed key encrypting the images.
   *
   * @default - AES256
   */
  public readonly encryptionKey?: kms.IKey;

  private readonly basePolicy?: LifecyclePolicy;
  private readonly configuredRules: LifecyclePolicyRule[];
  private readonly addedRules: LifecyclePolicyRule[] = [];
  private readonly defaultRules: () => LifecyclePolicyRule[];
  private readonly leadingRules: () => LifecyclePolicyRule[];

  /** Call with props already validated (`checkSecureRepositoryProps`): this creates the children. */
  protected constructor(scope: Construct, id: string, props: SecureRepositoryProps, options: SecureRepositoryOptions) {
    super(scope, id);
    const patterns = mutablePatterns(props);
    const repository = new ecr.Repository(this, 'Resource', {
      repositoryName: props.repositoryName,
      encryption: props.encryptionKey ? ecr.RepositoryEncryption.KMS : ecr.RepositoryEncryption.AES_256,
      encryptionKey: props.encryptionKey,
      imageScanOnPush: props.imageScanOnPush ?? true,
      imageTagMutability: patterns.length > 0 ? ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION : ecr.TagMutability.IMMUTABLE,
      imageTagMutabilityExclusionFilters: patterns.length > 0
        ? patterns.map((p) => ecr.ImageTagMutabilityExclusionFilter.wildcard(p))
        : undefined,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      emptyOnDelete: props.emptyOnDelete,
    });
    const cfn = repository.node.defaultChild as ecr.CfnRepository;
    if (!props.encryptionKey) {
      // Render the default explicitly, so the template states how the images are encrypted.
      cfn.encryptionConfiguration = { encryptionType: 'AES256' };
    }
    this.repository = repository;
    this.repositoryName = repository.repositoryName;
    this.repositoryArn = repository.repositoryArn;
    this.encryptionKey = props.encryptionKey;

    this.basePolicy = options.lifecyclePolicy;
    this.configuredRules = [...(options.lifecycleRules ?? [])];
    this.defaultRules = options.defaultRules ?? (() => []);
    this.leadingRules = options.leadingRules ?? (() => []);
    attachLifecyclePolicy(this, options.construct, cfn, () => this.lifecyclePolicy());
  }

  /**
   * The lifecycle policy as configured so far; undefined when the repository has no rule.
   *
   * Rules are evaluated in this order: an `InstallRepository`'s protect rules (one per live
   * `ImageSync` release, priorities 1 to n), then the rules of the `lifecyclePolicy` prop, then the
   * `lifecycleRules` prop, then the rules added with `addLifecycleRule()` in the order added, then
   * the default rules if the repository has any (they stay the catch-all). Rules without
   * `rulePriority` get one more than the highest priority before them; behind protect rules every
   * other rule keeps its order and its priority is raised by n.
   */
  public lifecyclePolicy(): LifecyclePolicy | undefined {
    const rules = [...this.configuredRules, ...this.addedRules, ...this.defaultRules()];
    const policy = this.basePolicy
      ? this.basePolicy.withRules(rules)
      : rules.length > 0 ? LifecyclePolicy.fromRules(rules) : undefined;
    return policy?._withLeadingRules(this.leadingRules());
  }

  /**
   * Adds a lifecycle rule: after the configured rules and the rules added before it, before any
   * default rules (see `lifecyclePolicy()`). Problems are reported at synth, all at once.
   */
  public addLifecycleRule(rule: LifecyclePolicyRule): void {
    this.addedRules.push(rule);
  }

  /**
   * Adds a statement to the repository policy.
   */
  public addToResourcePolicy(statement: iam.PolicyStatement): iam.AddToResourcePolicyResult {
    return this.repository.addToResourcePolicy(statement);
  }

  /**
   * Grants pulling images: `ecr:BatchCheckLayerAvailability`, `ecr:GetDownloadUrlForLayer`,
   * `ecr:BatchGetImage` on this repository, and `ecr:GetAuthorizationToken` on `*`.
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.grantWithToken(grantee, ECR_PULL_ACTIONS);
  }

  /**
   * Grants pushing images, with the set ECR documents for pushing, since clients check which layers
   * and manifests exist first: `ecr:BatchCheckLayerAvailability`, `ecr:BatchGetImage`,
   * `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`, `ecr:CompleteLayerUpload`, `ecr:PutImage` on
   * this repository, and `ecr:GetAuthorizationToken` on `*`. Deleting images is not granted.
   */
  public grantPush(grantee: iam.IGrantable): iam.Grant {
    return this.grantWithToken(grantee, ECR_PUSH_GRANT_ACTIONS);
  }

  /**
   * Grants pulling and pushing images: the actions of `grantPull` and `grantPush`.
   */
  public grantPullPush(grantee: iam.IGrantable): iam.Grant {
    return this.grantWithToken(grantee, [...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS]);
  }

  /**
   * Applies the removal policy to the repository.
   */
  public applyRemovalPolicy(policy: RemovalPolicy): void {
    this.repository.applyRemovalPolicy(policy);
  }

  private grantWithToken(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const grant = this.grant(grantee, ...actions);
    // IAM only accepts '*' as the resource of GetAuthorizationToken: the token is for the registry.
    iam.Grant.addToPrincipal({ grantee, actions: ECR_AUTH_ACTIONS, resourceArns: ['*'] });
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      Validations.of(principal).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken has no resource-level permissions: IAM requires "*". '
          + 'The image actions are granted on the repository\'s ARN only.',
      });
    }
    return grant;
  }
}
