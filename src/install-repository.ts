import { Annotations, Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import { ECR_IMAGE_WRITE_ACTIONS } from './private/perms';
import { familyPattern } from './private/release-family';
import {
  checkSecureRepositoryProps, importRepositoryByAttributes, importRepositoryByName, SecureRepositoryBase, SIGNATURE_TAG_PATTERN,
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
   * How many releases of each component (the release family of an `ImageSync`, tags
   * `<component>_*`) the default lifecycle policy keeps; older ones expire as newer releases of
   * the same component are synced. Tags outside every live family (releases of a removed sync,
   * tags pushed by hand) expire once this many newer tagged images exist. Only without
   * `lifecyclePolicy` and `lifecycleRules`.
   *
   * @default 30
   */
  readonly maxReleaseCount?: number;

  /**
   * How many untagged images (platform manifests of multi-arch releases, signatures and other
   * referrers, images whose mutable tag moved) the default lifecycle policy keeps. Only without
   * `lifecyclePolicy` and `lifecycleRules`.
   *
   * @default - ten times `maxReleaseCount` per component (at least one component)
   */
  readonly maxUntaggedImageCount?: number;

  /**
   * Render a protect rule before every other lifecycle rule for each release a live `ImageSync`
   * points at, so that no rule (the default ones, or yours) ever expires or archives it, even
   * after a rollback to an old release. Turning it off is reported as a synth-time warning
   * (`cdk-byoc-artifacts:liveReleasesUnprotected`) when the repository has syncs and a policy.
   *
   * @default true
   */
  readonly protectLiveReleases?: boolean;
}

/** A release an `ImageSync` of this repository points at. */
interface LiveRelease {
  readonly component: string;
  readonly tag: string;
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
   * The catch-all rules of the default lifecycle policy: keep the newest `maxUntaggedImageCount`
   * signature tags (`sha256-*`: cosign's signatures, attestations and SBOMs, which travel with
   * their releases), the newest `maxReleaseCount` other tagged images and the newest
   * `maxUntaggedImageCount` untagged ones (platform manifests, OCI referrers), expire the rest. Count-based
   * only, so nothing expires until newer images arrive. An `InstallRepository` renders its protect
   * rules and one keep rule per component (`familyLifecycleRules`) before them.
   *
   * @param maxReleaseCount tagged images to keep (default 30)
   * @param maxUntaggedImageCount untagged images, and signature tags, to keep (default ten times `maxReleaseCount`)
   */
  public static defaultLifecycleRules(maxReleaseCount?: number, maxUntaggedImageCount?: number): LifecyclePolicyRule[] {
    const releases = maxReleaseCount ?? InstallRepository.DEFAULT_MAX_RELEASE_COUNT;
    const untagged = maxUntaggedImageCount ?? releases * InstallRepository.DEFAULT_UNTAGGED_IMAGES_PER_RELEASE;
    return [
      {
        // Signature tags are tagged images too: without this rule the catch-all below would count
        // them against the releases and expire the signatures of releases it keeps.
        description: `Keep the ${untagged} newest signature and attestation tags (sha256-*)`,
        tagStatus: ecr.TagStatus.TAGGED,
        tagPatternList: [SIGNATURE_TAG_PATTERN],
        maxImageCount: untagged,
      },
      {
        description: `Keep the ${releases} newest tagged images`,
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
   * The keep rule of one component's release family: its `maxReleaseCount` newest releases
   * (tags `<component>_*`) stay, older ones expire.
   *
   * @param component the `ImageSync`'s component
   * @param maxReleaseCount releases of the component to keep (default 30)
   */
  public static familyLifecycleRule(component: string, maxReleaseCount?: number): LifecyclePolicyRule {
    const releases = maxReleaseCount ?? InstallRepository.DEFAULT_MAX_RELEASE_COUNT;
    return { description: `Keep the ${releases} newest ${component} releases`, tagPatternList: [familyPattern(component)], maxImageCount: releases };
  }

  /**
   * The protect rule of a live release: it selects the one image tagged `tag` and keeps it (a
   * count rule that one image never exceeds), and since an image belongs to the first rule that
   * selects it, no rule after it can expire or archive that image.
   *
   * @param tag the destination tag of the release (`ImageSync.imageTag`'s value, `<component>_<tag>`)
   */
  public static protectLifecycleRule(tag: string): LifecyclePolicyRule {
    return { description: 'Live release', tagPatternList: [tag], maxImageCount: 1 };
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
  private readonly liveReleases: LiveRelease[] = [];

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
    if (props.protectLiveReleases !== undefined && typeof props.protectLiveReleases !== 'boolean') {
      problems.add('protectLiveReleases', props.protectLiveReleases, 'true or false');
    }
    if (props.lifecycleRules !== undefined && !Array.isArray(props.lifecycleRules)) {
      problems.add('lifecycleRules', props.lifecycleRules, 'a list of LifecyclePolicyRule');
    }
    problems.throwIfAny();

    const protect = props.protectLiveReleases ?? true;
    super(scope, id, props, {
      construct: 'InstallRepository',
      lifecyclePolicy: props.lifecyclePolicy,
      lifecycleRules: props.lifecycleRules,
      defaultRules: explicit ? undefined : () => this.familyDefaultRules(props.maxReleaseCount, props.maxUntaggedImageCount),
      leadingRules: protect ? () => this.sortedLiveReleases().map((release) => InstallRepository.protectLifecycleRule(release.tag)) : undefined,
    });
    this.repository.addToResourcePolicy(new WriteDenyStatement(() => [...this.writerArns]));
    if (!protect) {
      this.node.addValidation({
        validate: () => {
          if (this.liveReleases.length > 0 && this.lifecyclePolicy() !== undefined) {
            Annotations.of(this).addWarningV2('cdk-byoc-artifacts:liveReleasesUnprotected',
              `protectLiveReleases is false: the lifecycle policy may expire the releases ${this.liveReleases.length} ImageSync(s) `
              + 'point at (after a rollback, or when other rules select them); running tasks would then fail to pull. '
              + 'Leave protectLiveReleases on to render a protect rule per live release before every other rule.');
          }
          return [];
        },
      });
    }
  }

  /**
   * Records a release an `ImageSync` points at: its component gets a keep rule in the default
   * policy and its tag a protect rule.
   *
   * @internal
   */
  public _addLiveRelease(component: string, tag: string): void {
    this.liveReleases.push({ component, tag });
  }

  private sortedLiveReleases(): LiveRelease[] {
    return [...this.liveReleases].sort((a, b) => (a.component < b.component ? -1 : a.component > b.component ? 1 : 0));
  }

  private familyDefaultRules(maxReleaseCount: number | undefined, maxUntaggedImageCount: number | undefined): LifecyclePolicyRule[] {
    const components = [...new Set(this.sortedLiveReleases().map((release) => release.component))];
    const releases = maxReleaseCount ?? InstallRepository.DEFAULT_MAX_RELEASE_COUNT;
    const untagged = maxUntaggedImageCount
      ?? releases * InstallRepository.DEFAULT_UNTAGGED_IMAGES_PER_RELEASE * Math.max(1, components.length);
    return [
      ...components.map((component) => InstallRepository.familyLifecycleRule(component, releases)),
      ...InstallRepository.defaultLifecycleRules(releases, untagged),
    ];
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
