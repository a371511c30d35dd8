import { Token, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { attachLifecyclePolicy } from './lifecycle/attach';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import { ECR_AUTH_ACTIONS, ECR_IMAGE_WRITE_ACTIONS, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS } from './private/perms';
import { checkSecureRepositoryProps, createSecureRepository } from './private/secure-repository';
import { ValidationProblems } from './private/validation';
import { SecureRepositoryProps } from './repository-props';

/**
 * Properties of an {@link InstallRepository}.
 */
export interface InstallRepositoryProps extends SecureRepositoryProps {
  /**
   * The lifecycle policy, replacing the default one. Combine with `lifecycleRules` or
   * `addLifecycleRule()` to add rules after its own.
   *
   * @default - the default policy: see `maxReleaseCount` and `maxUntaggedImageCount`
   */
  readonly lifecyclePolicy?: LifecyclePolicy;

  /**
   * Lifecycle rules, in evaluation order, replacing the default policy (evaluated after the
   * rules of `lifecyclePolicy` when both are given). An empty list turns lifecycle management
   * off: images are kept until deleted.
   *
   * @default - the default policy: see `maxReleaseCount` and `maxUntaggedImageCount`
   */
  readonly lifecycleRules?: LifecyclePolicyRule[];

  /**
   * How many tagged images (releases) the default lifecycle policy keeps; older ones expire as
   * newer releases are synced. Ignored when `lifecyclePolicy` or `lifecycleRules` is given.
   *
   * @default 30
   */
  readonly maxReleaseCount?: number;

  /**
   * How many untagged images (platform manifests of multi-arch releases, signatures and other
   * referrers, images whose mutable tag moved) the default lifecycle policy keeps. Ignored when
   * `lifecyclePolicy` or `lifecycleRules` is given.
   *
   * @default - ten times `maxReleaseCount`
   */
  readonly maxUntaggedImageCount?: number;
}

/**
 * Grants and restricts pushes to the repository: a Deny for every principal whose
 * `aws:PrincipalArn` is not one of the writers, rendered when the template is (so writers added
 * later are included). Without writers the Deny has no condition: nobody can write.
 */
class WriteDenyStatement extends iam.PolicyStatement {
  constructor(private readonly writers: () => string[]) {
    super({
      sid: 'DenyImageWritesExceptSyncWriters',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ECR_IMAGE_WRITE_ACTIONS,
    });
  }

  public toStatementJson(): any {
    const json = super.toStatementJson();
    const writers = this.writers();
    if (writers.length === 0) {
      return json;
    }
    return { ...json, Condition: { ArnNotEquals: { 'aws:PrincipalArn': writers.length === 1 ? writers[0] : writers } } };
  }
}

/**
 * The install account's ECR repository: where an `ImageSync` copies each release (same digest)
 * and from where the install's nodes and tasks pull it.
 *
 * Secure by default: immutable tags, scan on push, AES256 (or a KMS key), retained on stack
 * deletion, and a repository policy that denies pushing and deleting images to every principal
 * but the writers granted with `grantWrite()` (the sync function). The default lifecycle policy
 * keeps storage bounded by counting releases, never by age: an image leaves only when newer
 * releases push it out, so a release that runs for years is never expired.
 */
export class InstallRepository extends Construct {
  /** Releases the default lifecycle policy keeps. */
  public static readonly DEFAULT_MAX_RELEASE_COUNT = 30;
  /** Untagged images the default lifecycle policy keeps per kept release. */
  public static readonly DEFAULT_UNTAGGED_IMAGES_PER_RELEASE = 10;

  /**
   * The default lifecycle policy: keep the newest `maxReleaseCount` tagged images and the newest
   * `maxUntaggedImageCount` untagged ones, expire the rest. Count-based only, so nothing expires
   * until newer images arrive.
   *
   * @param maxReleaseCount tagged images to keep (default 30)
   * @param maxUntaggedImageCount untagged images to keep (default ten times `maxReleaseCount`)
   */
  public static defaultLifecycleRules(maxReleaseCount?: number, maxUntaggedImageCount?: number): LifecyclePolicyRule[] {
    const releases = maxReleaseCount ?? InstallRepository.DEFAULT_MAX_RELEASE_COUNT;
    const untagged = maxUntaggedImageCount ?? releases * InstallRepository.DEFAULT_UNTAGGED_IMAGES_PER_RELEASE;
    return [
      {
        description: `Keep the ${releases} newest releases (tagged images)`,
        tagStatus: ecr.TagStatus.TAGGED,
        tagPatternList: ['*'],
        maxImageCount: releases,
      },
      {
        description: `Keep the ${untagged} newest untagged images (platform manifests, referrers)`,
        tagStatus: ecr.TagStatus.UNTAGGED,
        maxImageCount: untagged,
      },
    ];
  }

  /** The underlying ECR repository. */
  public readonly repository: ecr.IRepository;
  /** The repository's name. */
  public readonly repositoryName: string;
  /** The repository's ARN. */
  public readonly repositoryArn: string;
  /** The repository's URI: `<account>.dkr.ecr.<region>.amazonaws.com/<name>`. */
  public readonly repositoryUri: string;

  private readonly writerArns: string[] = [];
  private readonly basePolicy?: LifecyclePolicy;
  private readonly configuredRules: LifecyclePolicyRule[];
  private readonly defaultRules?: LifecyclePolicyRule[];
  private readonly addedRules: LifecyclePolicyRule[] = [];

  constructor(scope: Construct, id: string, props: InstallRepositoryProps = {}) {
    super(scope, id);
    const problems = new ValidationProblems('InstallRepository');
    checkSecureRepositoryProps(problems, props);
    const explicit = props.lifecyclePolicy !== undefined || props.lifecycleRules !== undefined;
    for (const [name, value] of [['maxReleaseCount', props.maxReleaseCount], ['maxUntaggedImageCount', props.maxUntaggedImageCount]] as const) {
      if (value === undefined) {
        continue;
      }
      if (explicit) {
        problems.add(name, value, 'only without lifecyclePolicy and lifecycleRules (it sizes the default policy)');
      } else if (Token.isUnresolved(value) || !Number.isInteger(value) || value < 1) {
        problems.add(name, value, 'a concrete whole number of at least 1');
      }
    }
    if (props.lifecycleRules !== undefined && !Array.isArray(props.lifecycleRules)) {
      problems.add('lifecycleRules', props.lifecycleRules, 'a list of LifecyclePolicyRule');
    }
    problems.throwIfAny();

    const repository = createSecureRepository(this, props);
    const cfn = repository.node.defaultChild as ecr.CfnRepository;

    this.basePolicy = props.lifecyclePolicy;
    this.configuredRules = [...(props.lifecycleRules ?? [])];
    this.defaultRules = explicit ? undefined : InstallRepository.defaultLifecycleRules(props.maxReleaseCount, props.maxUntaggedImageCount);
    attachLifecyclePolicy(this, 'InstallRepository', cfn, () => this.lifecyclePolicy());

    repository.addToResourcePolicy(new WriteDenyStatement(() => [...this.writerArns]));

    this.repository = repository;
    this.repositoryName = repository.repositoryName;
    this.repositoryArn = repository.repositoryArn;
    this.repositoryUri = repository.repositoryUri;
  }

  /**
   * The lifecycle policy as configured so far (props, added rules, or the default); undefined
   * when `lifecycleRules` is empty and no rule was added.
   */
  public lifecyclePolicy(): LifecyclePolicy | undefined {
    if (this.basePolicy) {
      return this.basePolicy.withRules([...this.configuredRules, ...this.addedRules]);
    }
    if (this.defaultRules) {
      // Added rules take precedence; the default rules stay as the catch-all after them.
      return LifecyclePolicy.fromRules([...this.addedRules, ...this.defaultRules]);
    }
    const rules = [...this.configuredRules, ...this.addedRules];
    return rules.length > 0 ? LifecyclePolicy.fromRules(rules) : undefined;
  }

  /**
   * Adds a lifecycle rule. With the default policy, added rules are evaluated before the default
   * rules (which stay as the catch-all); otherwise after the configured rules.
   */
  public addLifecycleRule(rule: LifecyclePolicyRule): void {
    this.addedRules.push(rule);
  }

  /**
   * Grants pulling images: `ecr:BatchCheckLayerAvailability`, `ecr:GetDownloadUrlForLayer`,
   * `ecr:BatchGetImage` on this repository, and `ecr:GetAuthorizationToken` on `*`.
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.grantWithToken(grantee, ECR_PULL_ACTIONS);
  }

  /**
   * Grants pushing images and exempts the grantee from the repository policy's Deny of image
   * writes (pushes and `ecr:BatchDeleteImage`). The grantee must be an IAM role or user.
   *
   * Grants the set ECR documents for pushing, since clients check which layers and manifests
   * exist first: `ecr:BatchCheckLayerAvailability`, `ecr:BatchGetImage`,
   * `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`, `ecr:CompleteLayerUpload`, `ecr:PutImage`
   * on this repository, and `ecr:GetAuthorizationToken` on `*`. Deleting images is not granted.
   */
  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    const arn = principalArnOf(grantee.grantPrincipal);
    if (arn === undefined) {
      throw new Error(`Invalid InstallRepository.grantWrite grantee: ${grantee.grantPrincipal} is not allowed: `
        + 'an IAM role or user (the repository policy exempts writers by aws:PrincipalArn)');
    }
    if (!this.writerArns.includes(arn)) {
      this.writerArns.push(arn);
    }
    return this.grantWithToken(grantee, ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', ...ECR_PUSH_ACTIONS]);
  }

  private grantWithToken(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    const grant = this.repository.grant(grantee, ...actions);
    // IAM only accepts '*' as the resource of GetAuthorizationToken: the token is for the registry.
    iam.Grant.addToPrincipal({ grantee, actions: ECR_AUTH_ACTIONS, resourceArns: ['*'] });
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      Validations.of(principal).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken has no resource-level permissions: IAM requires "*". '
          + 'The image actions are granted on the install repository\'s ARN only.',
      });
    }
    return grant;
  }
}

/** The ARN `aws:PrincipalArn` has for requests of this principal (a role's, even for its sessions), if known. */
function principalArnOf(principal: iam.IPrincipal): string | undefined {
  const candidate = principal as Partial<iam.IRole & iam.IUser>;
  if (typeof candidate.roleArn === 'string') {
    return candidate.roleArn;
  }
  if (typeof candidate.userArn === 'string') {
    return candidate.userArn;
  }
  return undefined;
}
