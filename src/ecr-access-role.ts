import { Duration, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ECR_AUTH_ACTIONS, ECR_CROSS_ACCOUNT_PULL_ACTIONS } from './private/perms';
import {
  ValidationProblems, checkAccountId, checkExternalId, checkNonEmpty, checkOrganizationId, checkRoleArn, checkRoleName, isToken,
} from './private/validation';

/**
 * Properties of an {@link EcrAccessRole}.
 */
export interface EcrAccessRoleProps {
  /** The repositories the role may pull from (at least one). */
  readonly repositories: ecr.IRepository[];

  /**
   * Accounts whose principals may assume the role (each account's own IAM must also allow
   * `sts:AssumeRole` on this role), as 12-digit ids.
   *
   * @default - none; name at least one trusted principal in total
   */
  readonly trustedAccountIds?: string[];

  /**
   * Roles that may assume this role, as ARNs (e.g. an install's sync role).
   *
   * Trusting a role rather than its account is narrower: nobody else in that account can
   * assume this role, whatever their own IAM allows.
   *
   * @default - none; name at least one trusted principal in total
   */
  readonly trustedRoleArns?: string[];

  /**
   * Other principals that may assume the role, e.g. `iam.Role` objects of another stack.
   *
   * @default - none; name at least one trusted principal in total
   */
  readonly trustedPrincipals?: iam.IPrincipal[];

  /**
   * The external id every assumption must present (`sts:ExternalId`): 2-1224 characters of
   * letters, digits and `_+=,.@:/-`.
   *
   * A per-install secret-like value guards against the confused-deputy problem: a party that
   * knows the role ARN but not the id cannot make a trusted principal assume it for them.
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
   * The role's name (1-64 characters of letters, digits and `_+=,.@-`).
   *
   * @default - CloudFormation generates a unique name
   */
  readonly roleName?: string;
}

/**
 * A cross-account pull role in the tenant account: trusted install principals assume it, with
 * the external id, to pull component images from the tenant repositories.
 *
 * It allows exactly `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`,
 * `ecr:BatchCheckLayerAvailability`, `ecr:DescribeImages`, `ecr:ListImages` and
 * `ecr:DescribeRepositories` on the named repositories, plus `ecr:GetAuthorizationToken` (whose
 * only resource IAM accepts is `*`). The trust allows `sts:AssumeRole` and `sts:TagSession` (a
 * sync tags its session with the release id) only with the external id.
 */
export class EcrAccessRole extends Construct {
  /** The role. */
  public readonly role: iam.IRole;
  /** The role's ARN: what installs assume. */
  public readonly roleArn: string;
  /** The role's name. */
  public readonly roleName: string;
  /** The external id every assumption must present. */
  public readonly externalId: string;

  private readonly pullStatement: iam.PolicyStatement;

  constructor(scope: Construct, id: string, props: EcrAccessRoleProps) {
    super(scope, id);
    validate(props);

    const accountIds = [...new Set(props.trustedAccountIds ?? [])];
    const roleArns = [...new Set(props.trustedRoleArns ?? [])];
    const principals: iam.IPrincipal[] = [
      ...accountIds.map((a) => new iam.AccountPrincipal(a)),
      ...roleArns.map((a) => new iam.ArnPrincipal(a)),
      ...(props.trustedPrincipals ?? []),
    ];
    const conditions: { [key: string]: string } = { 'sts:ExternalId': props.externalId };
    if (props.principalOrgId !== undefined) {
      conditions['aws:PrincipalOrgID'] = props.principalOrgId;
    }

    this.pullStatement = new iam.PolicyStatement({
      sid: 'PullComponentImages',
      actions: ECR_CROSS_ACCOUNT_PULL_ACTIONS,
      resources: props.repositories.map((r) => r.repositoryArn),
    });
    const role = new iam.Role(this, 'Resource', {
      roleName: props.roleName,
      description: 'Pulls component images from the tenant repositories (cross-account, external id required)',
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      assumedBy: new iam.SessionTagsPrincipal(new iam.CompositePrincipal(...principals)).withConditions({ StringEquals: conditions }),
      inlinePolicies: {
        EcrPull: new iam.PolicyDocument({
          statements: [
            this.pullStatement,
            // IAM accepts no other resource for this action: the token is for the registry,
            // and the pull actions above decide which repositories it opens.
            new iam.PolicyStatement({ sid: 'RegistryLogin', actions: ECR_AUTH_ACTIONS, resources: ['*'] }),
          ],
        }),
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken is the only action on "*": IAM accepts no other resource for it. ' +
        'The pull actions are granted on the named repositories\' ARNs only.',
    });

    this.role = role;
    this.roleArn = role.roleArn;
    this.roleName = role.roleName;
    this.externalId = props.externalId;
  }

  /**
   * Lets the role pull from one more repository (same actions as the repositories of the props).
   */
  public addRepository(repository: ecr.IRepository): void {
    this.pullStatement.addResources(repository.repositoryArn);
  }
}

function validate(props: EcrAccessRoleProps): void {
  const problems = new ValidationProblems('EcrAccessRole');
  checkNonEmpty(problems, 'repositories', props.repositories);
  if (props.externalId === undefined) {
    problems.add('externalId', undefined, 'an external id is required: 2-1224 characters of letters, digits and _+=,.@:/-');
  } else {
    checkExternalId(problems, 'externalId', props.externalId);
  }
  const accountIds = props.trustedAccountIds ?? [];
  const roleArns = props.trustedRoleArns ?? [];
  const principals = props.trustedPrincipals ?? [];
  if (!isToken(accountIds)) {
    accountIds.forEach((a, i) => checkAccountId(problems, `trustedAccountIds[${i}]`, a));
  }
  if (!isToken(roleArns)) {
    roleArns.forEach((a, i) => checkRoleArn(problems, `trustedRoleArns[${i}]`, a));
  }
  if (!isToken(accountIds) && !isToken(roleArns) && accountIds.length + roleArns.length + principals.length === 0) {
    problems.add('trustedAccountIds, trustedRoleArns, trustedPrincipals', [],
      'at least one trusted principal in total (an account id, a role ARN or an iam.IPrincipal)');
  }
  if (props.principalOrgId !== undefined) {
    checkOrganizationId(problems, 'principalOrgId', props.principalOrgId);
  }
  const duration = props.maxSessionDuration;
  if (duration !== undefined) {
    const seconds = duration.toSeconds();
    if (seconds < 3600 || seconds > 12 * 3600) {
      problems.add('maxSessionDuration', duration.toHumanString(), 'between 1 and 12 hours');
    }
  }
  if (props.roleName !== undefined) {
    checkRoleName(problems, 'roleName', props.roleName);
  }
  problems.throwIfAny();
}
