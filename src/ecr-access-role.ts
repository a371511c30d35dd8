import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { SESSION_TAG_KEYS } from './image-sync-contract';
import { DEFAULT_TRUST_POLICY_QUOTA, Entry, MIN_EXTERNAL_ID_LENGTH, checkSizes, validate } from './private/access-role-checks';
import { ECR_AUTH_ACTIONS, ECR_CROSS_ACCOUNT_PULL_ACTIONS } from './private/perms';
import { LONGEST_PARTITION, trustDocument } from './private/trust-policy';
import { show } from './private/validation';

/**
 * One customer install the access role trusts: its account, optionally narrowed to its sync role,
 * optionally with an external id of its own.
 */
export interface TrustedInstall {
  /** The install's AWS account id (12 digits). Each account appears once in `trustedInstalls`. */
  readonly accountId: string;

  /**
   * Trust only this role of the install account (its sync role: an `ImageSyncProvider` with a
   * `roleName` has the predictable ARN `arn:aws:iam::<account>:role/<roleName>`) rather than
   * the whole account. The role must exist before the tenant stack deploys: IAM rejects a trust
   * policy that names a role which does not exist.
   *
   * @default - the whole account (any principal its own IAM allows to assume the role)
   */
  readonly roleArn?: string;

  /**
   * This install's own external id, instead of the role's shared `externalId`: one install then
   * cannot present another's id. Installs with their own id cost more of the trust policy (two
   * statements each), so fewer fit in one role.
   *
   * @default - the role's `externalId`
   */
  readonly externalId?: string;

  /**
   * The install is no longer trusted, but keeps its place in `trustedInstalls`, so that with
   * `installsPerRole` no other install moves to another role.
   *
   * @default false
   */
  readonly revoked?: boolean;
}

/**
 * What one install needs to pull from the tenant: the role to assume and the external id.
 */
export interface InstallAccess {
  /** The install's account id. */
  readonly accountId: string;
  /** The ARN of the access role this install assumes. */
  readonly roleArn: string;
  /** The name of that role. */
  readonly roleName: string;
  /** The external id this install presents. */
  readonly externalId: string;
}

/**
 * Properties of an {@link EcrAccessRole}.
 */
export interface EcrAccessRoleProps {
  /** The repositories the role may pull from (at least one). */
  readonly repositories: ecr.IRepository[];

  /**
   * Accounts whose principals may assume the role (each account's own IAM must also allow
   * `sts:AssumeRole` on this role), as 12-digit ids. `*` only with `principalOrgId`.
   *
   * @default - none; name at least one trusted principal in total
   */
  readonly trustedAccountIds?: string[];

  /**
   * Roles that may assume this role, as ARNs (e.g. an install's sync role).
   *
   * Trusting a role rather than its account is narrower: nobody else in that account can
   * assume this role, whatever their own IAM allows. The roles must exist before this stack
   * deploys. `*` only with `principalOrgId`.
   *
   * @default - none; name at least one trusted principal in total
   */
  readonly trustedRoleArns?: string[];

  /**
   * Other principals that may assume the role, e.g. `iam.Role` objects of another stack. Only
   * principals of the `AWS` kind without conditions of their own; `iam.AnyPrincipal`,
   * `iam.StarPrincipal` or `iam.ArnPrincipal('*')` only with `principalOrgId`.
   *
   * @default - none; name at least one trusted principal in total
   */
  readonly trustedPrincipals?: iam.IPrincipal[];

  /**
   * Customer installs the role trusts, in the order they were onboarded: each by account, by its
   * sync role, with the shared or its own external id.
   *
   * With `installsPerRole` this list is the assignment of installs to roles: append new installs
   * at the end and mark removed ones `revoked` instead of deleting them, so no install moves.
   *
   * @default - none
   */
  readonly trustedInstalls?: TrustedInstall[];

  /**
   * Shard `trustedInstalls` over several roles, this many installs per role: the install at
   * position `i` (from 0) is trusted by role `floor(i / installsPerRole)`, named
   * `<roleName>-<shard>`. Declare it once: changing it moves installs to other roles.
   *
   * Needs `roleName` (the prefix) and takes principals from `trustedInstalls` only. At most as
   * many installs as fit in one trust policy of `trustPolicySizeQuota` characters; the error says
   * how many fit.
   *
   * @default - one role trusts every principal
   */
  readonly installsPerRole?: number;

  /**
   * The role trust policy size quota of the tenant account (IAM's `Role trust policy length`,
   * `ACLSizePerRole`), in characters: 2048 unless raised in Service Quotas, at most 4096. Synth
   * fails when a trust policy would exceed it.
   *
   * @default 2048
   */
  readonly trustPolicySizeQuota?: number;

  /**
   * The external id every assumption must present (`sts:ExternalId`), unless an install has its
   * own: at least 16 characters of letters, digits and `_+=,.@:/-`.
   *
   * It is not a secret: it appears in every install's template and in the provider framework's
   * logs. It must be unique to this vendor (and, with per-install ids, to the install), so that a
   * third party who gets a trusted principal to act for it cannot reuse that principal against
   * this role (the confused-deputy problem).
   */
  readonly externalId: string;

  /**
   * Only principals of this AWS Organization may assume the role (`aws:PrincipalOrgID`).
   *
   * @default - no organization condition
   */
  readonly principalOrgId?: string;

  /**
   * The longest session the role allows, between 1 and 12 hours.
   *
   * A sync asks for much shorter sessions (15 minutes) itself.
   *
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: Duration;

  /**
   * The role's name (1-64 characters of letters, digits and `_+=,.@-`); with `installsPerRole`,
   * the prefix of every role's name (`<roleName>-<shard>`).
   *
   * @default - CloudFormation generates a unique name
   */
  readonly roleName?: string;
}

const LOGIN_REASON = 'ecr:GetAuthorizationToken is the only action on "*": IAM accepts no other resource for it. ' +
  'The pull actions are granted on the named repositories\' ARNs only.';

/**
 * A cross-account pull role in the tenant account: trusted install principals assume it, with
 * the external id, to pull component images from the tenant repositories.
 *
 * It allows exactly `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`,
 * `ecr:BatchCheckLayerAvailability`, `ecr:DescribeImages`, `ecr:ListImages` and
 * `ecr:DescribeRepositories` on the named repositories, plus `ecr:GetAuthorizationToken` (whose
 * only resource IAM accepts is `*`). The trust allows `sts:AssumeRole` with the external id, and
 * `sts:TagSession` (a sync tags its session with the release id) in a statement of its own with
 * the same conditions, for the sync's session tag keys only.
 *
 * The trust policy is one statement pair per external id, with every principal in one list,
 * whatever the feature flags; its size is checked at synth against `trustPolicySizeQuota`. Past
 * one role's capacity, `installsPerRole` shards `trustedInstalls` over several roles.
 */
export class EcrAccessRole extends Construct {
  /**
   * The shortest external id accepted: 16 characters. The id is not a secret, but must be unique
   * to the vendor and install; short ids like "prod" are shared by many and protect nobody.
   */
  public static readonly MIN_EXTERNAL_ID_LENGTH = MIN_EXTERNAL_ID_LENGTH;

  /** Every role, in shard order (one unless `installsPerRole` shards the installs). */
  public readonly roles: iam.IRole[];
  /** The external id every assumption presents, unless an install has its own. */
  public readonly externalId: string;

  private readonly pullStatements: iam.PolicyStatement[] = [];
  private readonly access = new Map<string, { shard: number; externalId: string; revoked: boolean }>();
  private readonly sharded: boolean;
  private readonly props: EcrAccessRoleProps;

  constructor(scope: Construct, id: string, props: EcrAccessRoleProps) {
    super(scope, id);
    const sharded = props.installsPerRole !== undefined;
    const entries = validate(props, sharded);
    this.sharded = sharded;
    this.props = props;
    this.externalId = props.externalId;

    // Shards: the install at position i goes to shard floor(i / installsPerRole), revoked ones
    // keep their place. Without sharding every principal is in shard 0.
    const perRole = props.installsPerRole ?? Number.MAX_SAFE_INTEGER;
    const shards: Entry[][] = [[]];
    const installs = props.trustedInstalls ?? [];
    if (!sharded) shards[0].push(...entries);
    installs.forEach((install, i) => {
      const shard = sharded ? Math.floor(i / perRole) : 0;
      const externalId = install.externalId ?? props.externalId;
      this.access.set(install.accountId, { shard, externalId, revoked: install.revoked === true });
      if (install.revoked) return;
      while (shards.length <= shard) shards.push([]);
      shards[shard].push({ accountId: install.accountId, principal: install.roleArn ?? install.accountId, externalId });
    });
    if (!sharded) {
      for (const e of entries) {
        if (e.accountId !== undefined && !this.access.has(e.accountId)) {
          this.access.set(e.accountId, { shard: 0, externalId: e.externalId, revoked: false });
        }
      }
    }

    const stack = Stack.of(this);
    const partition = stackPartition(stack);
    const quota = props.trustPolicySizeQuota ?? DEFAULT_TRUST_POLICY_QUOTA;
    const options = { principalOrgId: props.principalOrgId, sessionTagKeys: SESSION_TAG_KEYS };
    const documents = shards.map((s) => trustDocument(s, options));
    checkSizes(documents, shards, {
      quota, partition: partition ?? LONGEST_PARTITION, sharded, perRole: props.installsPerRole, props, options,
    });

    // Shards share one managed pull policy: one place to add a repository, and a template that
    // does not repeat the same policy hundreds of times.
    const sharedPolicy = sharded ? this.pullPolicy() : undefined;
    this.roles = documents.map((doc, shard) => {
      if (shards[shard].length === 0) {
        // Every install of this shard is revoked: a role that trusts nobody would be refused by
        // IAM (a statement needs a principal), so the shard has no role until the name is reused.
        return undefined;
      }
      return this.createRole(shard, doc, props, sharedPolicy);
    }).filter((r): r is iam.Role => r !== undefined);
  }

  /** The role: only when there is one (without `installsPerRole`); else see `roles` and `accessFor`. */
  public get role(): iam.IRole {
    return this.single('role');
  }

  /** The role's ARN: what installs assume. Only when there is one role; else see `accessFor`. */
  public get roleArn(): string {
    return this.single('roleArn').roleArn;
  }

  /** The role's name. Only when there is one role; else see `accessFor`. */
  public get roleName(): string {
    return this.single('roleName').roleName;
  }

  /**
   * The role ARN and external id a trusted install account uses.
   *
   * @param accountId the install's account id, as given in `trustedInstalls`, `trustedAccountIds`
   * or in the ARN of one of `trustedRoleArns`
   */
  public accessFor(accountId: string): InstallAccess {
    const access = this.access.get(accountId);
    if (access === undefined || access.revoked) {
      throw new Error(`EcrAccessRole ${this.node.path}: account ${show(accountId)} is ${access ? 'revoked' : 'not trusted'}: ` +
        'accessFor takes an account of trustedInstalls, trustedAccountIds or trustedRoleArns that is not revoked.');
    }
    const role = this.roleOfShard(access.shard);
    const name = this.roleNameOfShard(access.shard);
    // A named role's ARN is literal when the stack's account and Region are: the vendor can hand it
    // out at synth, before the stack deploys.
    const roleArn = name === undefined ? role.roleArn : namedRoleArn(Stack.of(this), name);
    return { accountId, roleArn, roleName: name ?? role.roleName, externalId: access.externalId };
  }

  /** What every trusted (not revoked) install account uses, in the order of the props. */
  public installAccess(): InstallAccess[] {
    return [...this.access.entries()].filter(([, a]) => !a.revoked).map(([accountId]) => this.accessFor(accountId));
  }

  /**
   * `installAccess()` as JSON, for the vendor to hand each install its own entry:
   * `{"installs":[{"accountId","roleArn","roleName","externalId"}],"sessionTagKeys":[...]}`.
   * Needs literal role ARNs: a `roleName` and a stack with an explicit account and Region.
   */
  public installAccessJson(): string {
    const installs = this.installAccess();
    const unresolved = installs.find((i) => Token.isUnresolved(i.roleArn));
    if (unresolved) {
      throw new Error(`EcrAccessRole ${this.node.path}: the role ARN of account ${unresolved.accountId} is known only at deploy time. ` +
        'Give the EcrAccessRole a roleName and its stack an env with account and region, so the ARNs are literal at synth.');
    }
    return JSON.stringify({ installs, sessionTagKeys: SESSION_TAG_KEYS }, undefined, 2);
  }

  /**
   * Lets every role pull from one more repository (same actions as the repositories of the props).
   */
  public addRepository(repository: ecr.IRepository): void {
    for (const s of this.pullStatements) s.addResources(repository.repositoryArn);
  }

  private pullDocument(): iam.PolicyDocument {
    const pullStatement = new iam.PolicyStatement({
      sid: 'PullComponentImages',
      actions: ECR_CROSS_ACCOUNT_PULL_ACTIONS,
      resources: this.props.repositories.map((r) => r.repositoryArn),
    });
    this.pullStatements.push(pullStatement);
    return new iam.PolicyDocument({
      statements: [
        pullStatement,
        // IAM accepts no other resource for this action: the token is for the registry,
        // and the pull actions above decide which repositories it opens.
        new iam.PolicyStatement({ sid: 'RegistryLogin', actions: ECR_AUTH_ACTIONS, resources: ['*'] }),
      ],
    });
  }

  private pullPolicy(): iam.ManagedPolicy {
    const policy = new iam.ManagedPolicy(this, 'EcrPull', {
      description: 'Pulls component images from the tenant repositories (every shard of the access role)',
      document: this.pullDocument(),
    });
    Validations.of(policy).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: LOGIN_REASON });
    return policy;
  }

  private createRole(shard: number, doc: object, props: EcrAccessRoleProps, sharedPolicy?: iam.ManagedPolicy): iam.Role {
    const role = new iam.Role(this, this.sharded ? `Shard${shard}` : 'Resource', {
      roleName: this.roleNameOfShard(shard),
      description: 'Pulls component images from the tenant repositories (cross-account, external id required)',
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      // Replaced below by the compact document; aws-cdk-lib would render one statement per
      // AccountPrincipal unless @aws-cdk/aws-iam:minimizePolicies is set.
      assumedBy: new iam.AccountRootPrincipal(),
      managedPolicies: sharedPolicy ? [sharedPolicy] : undefined,
      inlinePolicies: sharedPolicy ? undefined : { EcrPull: this.pullDocument() },
    });
    (role.node.defaultChild as iam.CfnRole).assumeRolePolicyDocument = doc;
    if (!sharedPolicy) Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: LOGIN_REASON });
    return role;
  }

  private roleNameOfShard(shard: number): string | undefined {
    const prefix = this.props.roleName;
    return prefix === undefined ? undefined : this.sharded ? `${prefix}-${shard}` : prefix;
  }

  private roleOfShard(shard: number): iam.IRole {
    const role = this.node.tryFindChild(this.sharded ? `Shard${shard}` : 'Resource') as iam.IRole | undefined;
    if (role === undefined) {
      throw new Error(`EcrAccessRole ${this.node.path}: shard ${shard} has no role (all its installs are revoked).`);
    }
    return role;
  }

  private single(what: string): iam.IRole {
    if (this.sharded) {
      throw new Error(`EcrAccessRole ${this.node.path}: ${what} is ambiguous with installsPerRole (${this.roles.length} roles): ` +
        'use accessFor(accountId), installAccess() or roles.');
    }
    return this.roles[0];
  }
}

/** The ARN of a named role of the stack: literal when the stack's account and Region are. */
function namedRoleArn(stack: Stack, roleName: string): string {
  const partition = stackPartition(stack);
  if (partition === undefined || Token.isUnresolved(stack.account)) {
    return stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: roleName });
  }
  return `arn:${partition}:iam::${stack.account}:role/${roleName}`;
}

/** The stack's partition when its Region is known at synth. */
function stackPartition(stack: Stack): string | undefined {
  return Token.isUnresolved(stack.region) ? undefined : RegionInfo.get(stack.region).partition;
}
