import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { EcrAccessRole } from './ecr-access-role';
import { LifecyclePolicy } from './lifecycle/policy';
import { LifecyclePolicyRule } from './lifecycle/rules';
import {
  ECR_AUTH_ACTIONS, ECR_CROSS_ACCOUNT_PULL_ACTIONS, ECR_PULL_ACTIONS, ECR_PULL_THROUGH_ACTIONS, ECR_PUSH_ACTIONS,
} from './private/perms';
import { checkPullThroughPrefix } from './private/pull-through-checks';
import { checkSecureRepositoryProps } from './private/secure-repository';
import { isToken, ValidationProblems } from './private/validation';
import { UpstreamRegistry } from './upstream-registry';

/**
 * Properties of a {@link PullThroughCache}.
 */
export interface PullThroughCacheProps {
  /** The registry to cache, e.g. `UpstreamRegistry.dockerHub(secret)`. */
  readonly upstream: UpstreamRegistry;

  /**
   * The namespace of the cached repositories in this registry: pulling
   * `<account>.dkr.ecr.<region>.amazonaws.com/<repositoryPrefix>/<upstream repository>:<tag>`
   * caches the upstream image. 2-30 characters of ECR's repository grammar; not `ROOT`, and not
   * inside (or around) another cache's prefix of the stack.
   *
   * @default - the upstream's `defaultRepositoryPrefix`, e.g. `docker-hub`
   */
  readonly repositoryPrefix?: string;

  /**
   * A customer managed KMS key for the cached repositories. ECR then creates them through a role
   * of the construct's (trusted by `ecr.amazonaws.com`) that may use the key.
   *
   * @default - AES256
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Tag patterns that stay mutable in the cached repositories; every other tag is immutable, so a
   * cached release tag keeps the digest it was first cached with. ECR wildcard filters, as for
   * `TenantRepository`.
   *
   * @default ['latest']
   */
  readonly mutableTagPatterns?: string[];

  /**
   * The cached repositories' lifecycle policy.
   *
   * @default - untagged images expire after 14 days, and each cached repository keeps its 200
   * most recent images
   */
  readonly lifecyclePolicy?: LifecyclePolicy;

  /**
   * Lifecycle rules for the cached repositories, after those of `lifecyclePolicy`; given without
   * `lifecyclePolicy`, they replace the default policy.
   *
   * @default - no rules beyond `lifecyclePolicy`
   */
  readonly lifecycleRules?: LifecyclePolicyRule[];

  /**
   * Scan images on push in this registry. A repository creation template cannot set scanning: ECR
   * configures it once per registry (account and Region), so with this on the stack declares the
   * registry's scanning configuration, basic scan on push of every repository (the setting
   * `TenantRepository` also asks for). Turn it off when the registry's scanning is managed elsewhere
   * (Amazon Inspector enhanced scanning, another stack).
   *
   * @default true
   */
  readonly scanOnPush?: boolean;
}

// One registry scanning configuration per stack, shared by every cache of the stack.
const SCANNING_ID = 'cdk-byoc-artifacts.RegistryScanning';
const PREFIXES = new WeakMap<Stack, Map<string, string>>();

/**
 * An Amazon ECR pull-through cache in the tenant account: a cache rule for one upstream registry,
 * the repository creation template its cached repositories get (immutable tags with exclusions,
 * encryption, a lifecycle policy), and grants to pull through it.
 *
 * Installs then never pull from the upstream themselves: they sync the cached image from the
 * tenant (`ImageSource.fromTenantEcr(cache.repository(...), ...)`) through an `EcrAccessRole`
 * that `grantAccessRole` lets pull through the cache.
 */
export class PullThroughCache extends Construct {
  /** The cache rule. */
  public readonly rule: ecr.CfnPullThroughCacheRule;

  /** The repository creation template of the cached repositories. */
  public readonly creationTemplate: ecr.CfnRepositoryCreationTemplate;

  /** The namespace of the cached repositories, e.g. `docker-hub`. */
  public readonly repositoryPrefix: string;

  /** The cached upstream. */
  public readonly upstream: UpstreamRegistry;

  /**
   * The role ECR assumes to reach an upstream ECR registry of another account.
   *
   * @default - none (other upstreams, or an upstream ECR registry of this account)
   */
  public readonly upstreamRole?: iam.IRole;

  constructor(scope: Construct, id: string, props: PullThroughCacheProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const upstream = props.upstream;
    const prefix = (props.repositoryPrefix ?? upstream?.defaultRepositoryPrefix)?.replace(/\/$/, '');
    const patterns = props.mutableTagPatterns ?? ['latest'];
    const policy = cachePolicy(props);

    const p = new ValidationProblems('PullThroughCache');
    if (upstream === undefined) {
      p.add('upstream', undefined, 'an UpstreamRegistry, e.g. UpstreamRegistry.dockerHub(secret)');
    }
    checkPullThroughPrefix(p, 'repositoryPrefix', prefix!);
    const claimed = PREFIXES.get(stack) ?? new Map<string, string>();
    const overlap = prefix === undefined || isToken(prefix) ? undefined
      : [...claimed.keys()].find((other) => other === prefix || other.startsWith(`${prefix}/`) || prefix.startsWith(`${other}/`));
    if (overlap !== undefined) {
      p.add('repositoryPrefix', prefix, `a namespace no other cache of the stack covers (${claimed.get(overlap)} caches "${overlap}/")`);
    }
    checkSecureRepositoryProps(p, { mutableTagPatterns: patterns });
    for (const problem of policy.validate()) {
      p.add('lifecyclePolicy', '<policy>', problem);
    }
    p.throwIfAny();
    if (!isToken(prefix)) {
      claimed.set(prefix!, this.node.path);
      PREFIXES.set(stack, claimed);
    }
    this.repositoryPrefix = prefix!;
    this.upstream = upstream;

    const config = upstream._config;
    if (config.role) {
      this.upstreamRole = config.role;
    } else if (upstream._needsRole(stack.account)) {
      this.upstreamRole = this.createUpstreamRole(config.ecrAccount!, config.ecrRegion!, config.upstreamRepositoryPrefix);
    }
    this.rule = new ecr.CfnPullThroughCacheRule(this, 'Rule', {
      ecrRepositoryPrefix: this.repositoryPrefix,
      upstreamRegistryUrl: upstream.url,
      upstreamRegistry: config.registryName,
      credentialArn: config.credentials?.secretArn,
      customRoleArn: this.upstreamRole?.roleArn,
      upstreamRepositoryPrefix: config.upstreamRepositoryPrefix,
    });

    const templateRole = props.encryptionKey ? this.createTemplateRole(props.encryptionKey) : undefined;
    this.creationTemplate = new ecr.CfnRepositoryCreationTemplate(this, 'CreationTemplate', {
      prefix: this.repositoryPrefix,
      appliedFor: ['PULL_THROUGH_CACHE'],
      description: `Repositories of the ${upstream.kind} pull-through cache (cdk-byoc-artifacts)`,
      encryptionConfiguration: props.encryptionKey
        ? { encryptionType: 'KMS', kmsKey: props.encryptionKey.keyArn }
        : { encryptionType: 'AES256' },
      imageTagMutability: patterns.length > 0 ? 'IMMUTABLE_WITH_EXCLUSION' : 'IMMUTABLE',
      imageTagMutabilityExclusionFilters: patterns.length > 0
        ? patterns.map((filter) => ({ imageTagMutabilityExclusionFilterType: 'WILDCARD', imageTagMutabilityExclusionFilterValue: filter }))
        : undefined,
      lifecyclePolicy: policy.renderPolicyText(),
      customRoleArn: templateRole?.roleArn,
    });
    // ECR reads the template when the first pull creates a repository: the template goes first.
    this.rule.node.addDependency(this.creationTemplate);
    if (props.scanOnPush ?? true) {
      scanOnPushEverywhere(this);
    }
  }

  /** The ARN of every cached repository: `arn:<partition>:ecr:<region>:<account>:repository/<prefix>/*`. */
  public get repositoryArnPattern(): string {
    return Stack.of(this).formatArn({ service: 'ecr', resource: 'repository', resourceName: `${this.repositoryPrefix}/*` });
  }

  /**
   * The cached repository of one upstream repository, e.g. `repository(this, 'Nginx',
   * 'library/nginx')` for Docker Hub's nginx: pass it to `ImageSource.fromTenantEcr` or
   * `EcrAccessRole.addRepository`. ECR creates it on the first pull.
   *
   * @param upstreamRepository the repository's name in the upstream registry
   */
  public repository(scope: Construct, id: string, upstreamRepository: string): ecr.IRepository {
    const p = new ValidationProblems('PullThroughCache.repository');
    const name = `${this.repositoryPrefix}/${upstreamRepository}`;
    if (!isToken(upstreamRepository)) {
      checkSecureRepositoryProps(p, { repositoryName: name });
    }
    p.throwIfAny();
    const stack = Stack.of(this);
    return ecr.Repository.fromRepositoryAttributes(scope, id, {
      repositoryName: name,
      repositoryArn: stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: name }),
    });
  }

  /**
   * Grants pulling through the cache: what `EcrAccessRole` grants on a repository
   * (`ecr:BatchCheckLayerAvailability`, `ecr:GetDownloadUrlForLayer`, `ecr:BatchGetImage`,
   * `ecr:DescribeImages`, `ecr:ListImages`, `ecr:DescribeRepositories`) plus what a first pull
   * needs to fill the cache (`ecr:BatchImportUpstreamImage`, `ecr:CreateRepository`), on the
   * cached repositories (`repositoryArnPattern`) only; and `ecr:GetAuthorizationToken` on `*`.
   */
  public grantPullThrough(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [...ECR_CROSS_ACCOUNT_PULL_ACTIONS, ...ECR_PULL_THROUGH_ACTIONS],
      resourceArns: [this.repositoryArnPattern],
    });
    iam.Grant.addToPrincipal({ grantee, actions: ECR_AUTH_ACTIONS, resourceArns: ['*'] });
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      const v = Validations.of(principal);
      v.acknowledge({
        id: `AwsSolutions-IAM5[Resource::${this.nagArnPattern()}]`,
        reason: `The ${this.repositoryPrefix}/ namespace holds only the repositories ECR creates for the ${this.upstream.kind} cache, named after upstream repositories not known in advance.`,
      });
      v.acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken has no resource-level permissions: IAM requires "*". The image actions are granted on the cached repositories only.',
      });
    }
    return grant;
  }

  /**
   * Lets every role of an `EcrAccessRole` pull through the cache (see `grantPullThrough`), so that
   * installs sync cached images like any tenant image.
   */
  public grantAccessRole(accessRole: EcrAccessRole): void {
    for (const role of accessRole.roles) {
      this.grantPullThrough(role);
    }
  }

  /** `repositoryArnPattern` as cdk-nag names it in a finding: pseudo parameters as `<AWS::Region>`, literals as they are. */
  private nagArnPattern(): string {
    const stack = Stack.of(this);
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    return `arn:<AWS::Partition>:ecr:${region}:${account}:repository/${this.repositoryPrefix}/*`;
  }

  /** The role ECR assumes to pull from an upstream ECR registry of another account into this cache. */
  private createUpstreamRole(account: string, region: string, upstreamPrefix: string | undefined): iam.Role {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'UpstreamRole', {
      assumedBy: new iam.ServicePrincipal('pullthroughcache.ecr.amazonaws.com'),
      description: `Lets ECR pull ${account}'s images into the ${this.repositoryPrefix}/ cache (cdk-byoc-artifacts)`,
    });
    const upstreamArn = `arn:${stack.partition}:ecr:${region}:${account}:repository/${upstreamPrefix ? `${upstreamPrefix}/*` : '*'}`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ECR_PULL_ACTIONS, resources: [upstreamArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ecr:BatchImportUpstreamImage', 'ecr:GetImageCopyStatus', ...ECR_PUSH_ACTIONS],
      resources: [this.repositoryArnPattern],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ECR_AUTH_ACTIONS, resources: ['*'] }));
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions: IAM requires "*".',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${this.nagArnPattern()}]`,
      reason: 'ECR writes the cached repositories it creates under the cache\'s namespace; their names follow the upstream\'s.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${upstreamArn.replace(stack.partition, '<AWS::Partition>')}]`,
      reason: 'The upstream repositories are read by name pattern: the cache mirrors whichever the tenant pulls.',
    });
    return role;
  }

  /** The role ECR assumes to create cached repositories encrypted with the customer key. */
  private createTemplateRole(key: kms.IKey): iam.Role {
    // The trust and permissions ECR documents for a creation template's role, with the ECR
    // actions narrowed from "*" to the cache's namespace.
    const role = new iam.Role(this, 'TemplateRole', {
      assumedBy: new iam.ServicePrincipal('ecr.amazonaws.com'),
      description: `Lets ECR create the ${this.repositoryPrefix}/ cached repositories with the customer managed key (cdk-byoc-artifacts)`,
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ecr:CreateRepository', 'ecr:TagResource'],
      resources: [this.repositoryArnPattern],
    }));
    key.grant(role, 'kms:CreateGrant', 'kms:RetireGrant', 'kms:DescribeKey');
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${this.nagArnPattern()}]`,
      reason: 'ECR creates the cached repositories under the cache\'s namespace; their names follow the upstream\'s.',
    });
    return role;
  }
}

/** The cached repositories' lifecycle policy: the props', or the default. */
function cachePolicy(props: PullThroughCacheProps): LifecyclePolicy {
  const rules = props.lifecycleRules ?? [];
  if (props.lifecyclePolicy) {
    return props.lifecyclePolicy.withRules(rules);
  }
  return LifecyclePolicy.fromRules(rules.length > 0 ? rules : [
    { description: 'Expire untagged cached images after 14 days', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(14) },
    { description: 'Keep the 200 most recent images of each cached repository', tagStatus: ecr.TagStatus.ANY, maxImageCount: 200 },
  ]);
}

/** The stack's registry scanning configuration: basic scan on push of every repository (once per stack). */
function scanOnPushEverywhere(scope: Construct): void {
  const stack = Stack.of(scope);
  if (stack.node.tryFindChild(SCANNING_ID) !== undefined) {
    return;
  }
  new ecr.CfnRegistryScanningConfiguration(stack, SCANNING_ID, {
    scanType: 'BASIC',
    rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }] }],
  });
}
