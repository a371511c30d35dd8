import { Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import { ECR_IMAGE_WRITE_ACTIONS } from './private/perms';
import {
  checkSecureRepositoryProps, importRepositoryByAttributes, importRepositoryByName, SecureRepositoryBase,
} from './private/secure-repository';
import { ValidationProblems } from './private/validation';
import { SecureRepositoryProps } from './repository-props';

/**
 * Properties of an {@link InstallRepository}.
 */
export interface InstallRepositoryProps extends SecureRepositoryProps {
  /**
   * The lifecycle policy, replacing the default one. `lifecycleRules` and `addLifecycleRule()` add
   * rules after its own (see `lifecyclePolicy()` for the whole order).
   *
   * @default - the default policy: see `maxReleaseCount` and `maxUntaggedImageCount`
   */
  readonly lifecyclePolicy?: LifecyclePolicy;

  /**
   * Lifecycle rules, in evaluation order, replacing the default policy (evaluated after the
   * rules of `lifecyclePolicy` when both are given). An empty list, and no rule added, turns
   * lifecycle management off: images are kept until deleted.
   *
   * @default - the default policy: see `maxReleaseCount` and `maxUntaggedImageCount`
   */
  readonly lifecycleRules?: LifecyclePolicyRule[];

  /**
   * How many tagged images (releases) the default lifecycle policy keeps; older ones expire as
   * newer releases are synced. Only without `lifecyclePolicy` and `lifecycleRules`.
   *
   * @default 30
   */
  readonly maxReleaseCount?: number;

  /**
   * How many untagged images (platform manifests of multi-arch releases, signatures and other
   * referrers, images whose mutable tag moved) the default lifecycle policy keeps. Only without
   * `lifecyclePolicy` and `lifecycleRules`.
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
 * and from where the install's nodes and tasks pull it. An `ecr.IRepository` itself: pass it
 * wherever aws-cdk-lib expects one (`repository` is the inner `ecr.Repository`).
 *
 * Secure by default: immutable tags, scan on push, AES256 (or a KMS key), retained on stack
 * deletion, and a repository policy that denies pushing and deleting images to every principal
 * but its writers. A writer is any role or user granted an image-write action through this
 * construct: `grantPush`, `grantPullPush`, or `grant` with a push or delete action (an
 * `ImageSync` makes its function one). The default lifecycle policy keeps storage bounded by
 * counting releases, never by age: an image leaves only when newer releases push it out, so a
 * release that runs for years is never expired.
 *
 * Grant through the `InstallRepository`, not through its inner `repository`: a push granted on
 * the inner repository is still denied by the repository policy.
 */
export class InstallRepository extends SecureRepositoryBase {
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

  /**
   * Imports an existing repository of this account and region by name.
   *
   * An import is a plain `ecr.IRepository`: its grants do not exempt the grantee from the write
   * deny of the stack that owns the `InstallRepository`. Grant push there instead, e.g. to
   * `iam.Role.fromRoleName(...)` of an `ImageSyncProvider`'s `roleName`.
   */
  public static fromRepositoryName(scope: Construct, id: string, repositoryName: string): ecr.IRepository {
    return importRepositoryByName('InstallRepository', scope, id, repositoryName);
  }

  /**
   * Imports an existing repository by name and ARN. Like `fromRepositoryName`, grants through the
   * import do not exempt the grantee from the owning stack's write deny.
   */
  public static fromRepositoryAttributes(scope: Construct, id: string, attrs: ecr.RepositoryAttributes): ecr.IRepository {
    return importRepositoryByAttributes('InstallRepository', scope, id, attrs);
  }

  /**
   * The `InstallRepository` that `repository` is, or whose inner repository it is.
   *
   * @internal
   */
  public static _of(repository: ecr.IRepository): InstallRepository | undefined {
    if (repository instanceof InstallRepository) {
      return repository;
    }
    const owner = repository.node.scope;
    return owner instanceof InstallRepository && owner.repository === repository ? owner : undefined;
  }

  private readonly writerArns: string[] = [];

  constructor(scope: Construct, id: string, props: InstallRepositoryProps = {}) {
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

    super(scope, id, props, {
      construct: 'InstallRepository',
      lifecyclePolicy: props.lifecyclePolicy,
      lifecycleRules: props.lifecycleRules,
      defaultRules: explicit ? undefined : InstallRepository.defaultLifecycleRules(props.maxReleaseCount, props.maxUntaggedImageCount),
    });
    this.repository.addToResourcePolicy(new WriteDenyStatement(() => [...this.writerArns]));
  }

  /**
   * Grants the actions on this repository. When they include an image-write action (a push or
   * `ecr:BatchDeleteImage`), the grantee, which must then be an IAM role or user, also becomes a
   * writer: exempt from the repository policy's Deny of image writes.
   */
  public grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    if (actions.some((a) => ECR_IMAGE_WRITE_ACTIONS.includes(a))) {
      this.addWriter(grantee, 'grant');
    }
    return super.grant(grantee, ...actions);
  }

  /**
   * Grants pushing images (the actions listed below) and makes the grantee a writer, exempt from
   * the repository policy's Deny of image writes. The grantee must be an IAM role or user.
   *
   * Grants the set ECR documents for pushing, since clients check which layers and manifests
   * exist first: `ecr:BatchCheckLayerAvailability`, `ecr:BatchGetImage`,
   * `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`, `ecr:CompleteLayerUpload`, `ecr:PutImage`
   * on this repository, and `ecr:GetAuthorizationToken` on `*`. Deleting images is not granted.
   */
  public grantPush(grantee: iam.IGrantable): iam.Grant {
    this.addWriter(grantee, 'grantPush');
    return super.grantPush(grantee);
  }

  /**
   * Grants pulling and pushing images and makes the grantee a writer, like `grantPush`.
   */
  public grantPullPush(grantee: iam.IGrantable): iam.Grant {
    this.addWriter(grantee, 'grantPullPush');
    return super.grantPullPush(grantee);
  }

  private addWriter(grantee: iam.IGrantable, method: string): void {
    const arn = principalArnOf(grantee.grantPrincipal);
    if (arn === undefined) {
      throw new Error(`Invalid InstallRepository.${method} grantee: ${grantee.grantPrincipal} is not allowed: `
        + 'an IAM role or user (the repository policy exempts writers by aws:PrincipalArn)');
    }
    if (!this.writerArns.includes(arn)) {
      this.writerArns.push(arn);
    }
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
