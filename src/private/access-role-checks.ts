/**
 * The checks of an EcrAccessRole's props that need no construct: the trusted principals and
 * external ids, and the rendered trust policy's size against IAM's quota.
 */
import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LONGEST_PARTITION, TrustEntry, TrustOptions, trustDocument, trustPolicyLength } from './trust-policy';
import {
  ValidationProblems, checkAccountId, checkExternalId, checkNonEmpty, checkOrganizationId, checkRoleArn, checkRoleName,
  checkWholeSeconds, isToken,
} from './validation';
import type { EcrAccessRoleProps } from '../ecr-access-role';

/** IAM's default role trust policy length quota (`ACLSizePerRole`), and its highest value. */
export const DEFAULT_TRUST_POLICY_QUOTA = 2048;
export const MAX_TRUST_POLICY_QUOTA = 4096;

/**
 * The shortest external id accepted. An external id is not a secret, but it must be unique per
 * vendor and install; 16 random letters and digits cannot collide or be guessed in practice,
 * while ids like "prod" or "acme" are shared by many and protect nobody.
 */
export const MIN_EXTERNAL_ID_LENGTH = 16;

// Stand-in lengths for tokens in the size estimate: a role ARN with a 64-character name and no
// path (a role of another stack), and a 64-character external or organization id.
const TOKEN_PRINCIPAL_LENGTH = `arn:${LONGEST_PARTITION}:iam::123456789012:role/`.length + 64;
const TOKEN_VALUE_LENGTH = 64;

const STAR = '*';

/** A trust entry with the install account it belongs to (when known). */
export interface Entry extends TrustEntry {
  readonly accountId?: string;
}

export interface SizeCheck {
  readonly quota: number;
  readonly partition: string;
  readonly sharded: boolean;
  readonly perRole?: number;
  readonly props: EcrAccessRoleProps;
  readonly options: TrustOptions;
}

export function checkSizes(documents: ReturnType<typeof trustDocument>[], shards: Entry[][], check: SizeCheck): void {
  const assumptions = {
    partition: check.partition,
    isToken: (s: string) => Token.isUnresolved(s),
    tokenPrincipalLength: TOKEN_PRINCIPAL_LENGTH,
    tokenValueLength: TOKEN_VALUE_LENGTH,
  };
  const problems = new ValidationProblems('EcrAccessRole');
  documents.forEach((doc, shard) => {
    const length = trustPolicyLength(doc, assumptions);
    if (length <= check.quota) return;
    const n = shards[shard].length;
    // How many of this shard's principals fit: the longest prefix within the quota.
    let low = 0;
    let high = n;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      const prefix = trustDocument(shards[shard].slice(0, mid), check.options);
      if (trustPolicyLength(prefix, assumptions) <= check.quota) low = mid; else high = mid - 1;
    }
    const fits = low;
    if (check.sharded) {
      problems.add('installsPerRole', check.perRole,
        `role ${shard}'s trust policy would be ${length} characters for ${n} installs, over the quota of ${check.quota} ` +
        `(trustPolicySizeQuota); about ${fits} such installs fit in one role. Lower installsPerRole (this moves installs ` +
        `to other roles: do it before onboarding), or raise the quota in Service Quotas (up to ${MAX_TRUST_POLICY_QUOTA}) and set trustPolicySizeQuota`);
    } else {
      problems.add('trustedAccountIds, trustedRoleArns, trustedPrincipals, trustedInstalls', `${n} principals`,
        `the trust policy would be ${length} characters, over the quota of ${check.quota} (trustPolicySizeQuota); ` +
        `about ${fits} such principals fit in one role. Shard them: list them in trustedInstalls and set installsPerRole ` +
        `(at most ${fits}) and roleName; or raise the quota in Service Quotas (up to ${MAX_TRUST_POLICY_QUOTA}) and set trustPolicySizeQuota; ` +
        'or, when every install is in one AWS Organization, trust it: principalOrgId with trustedPrincipals [new iam.AnyPrincipal()]');
    }
  });
  problems.throwIfAny();
}

/** Validates the props and returns the trust entries of the lists other than `trustedInstalls`. */
export function validate(props: EcrAccessRoleProps, sharded: boolean): Entry[] {
  const problems = new ValidationProblems('EcrAccessRole');
  checkNonEmpty(problems, 'repositories', props.repositories);
  if (props.externalId === undefined) {
    problems.add('externalId', undefined, `an external id is required: ${MIN_EXTERNAL_ID_LENGTH}-1224 characters of letters, digits and _+=,.@:/-`);
  } else {
    checkTrustExternalId(problems, 'externalId', props.externalId);
  }
  const orgNarrowed = props.principalOrgId !== undefined;
  const starMessage = 'a principal of "*" lets any AWS account assume the role; allowed only with principalOrgId, which narrows it to one organization';
  const accountIds = props.trustedAccountIds ?? [];
  const roleArns = props.trustedRoleArns ?? [];
  const principals = props.trustedPrincipals ?? [];
  const installs = props.trustedInstalls ?? [];
  const entries: Entry[] = [];
  const shared = props.externalId;

  if (!isToken(accountIds)) {
    accountIds.forEach((a, i) => {
      if (a === STAR) {
        if (!orgNarrowed) problems.add(`trustedAccountIds[${i}]`, a, starMessage);
        entries.push({ principal: STAR, externalId: shared });
        return;
      }
      checkAccountId(problems, `trustedAccountIds[${i}]`, a);
      entries.push({ principal: a, externalId: shared, accountId: isToken(a) ? undefined : a });
    });
  }
  if (!isToken(roleArns)) {
    roleArns.forEach((a, i) => {
      if (a === STAR) {
        if (!orgNarrowed) problems.add(`trustedRoleArns[${i}]`, a, starMessage);
        entries.push({ principal: STAR, externalId: shared });
        return;
      }
      checkRoleArn(problems, `trustedRoleArns[${i}]`, a);
      entries.push({ principal: a, externalId: shared, accountId: isToken(a) ? undefined : a.split(':')[4] });
    });
  }
  principals.forEach((p, i) => {
    const fragment = p.policyFragment;
    const prop = `trustedPrincipals[${i}]`;
    if (Object.keys(fragment.conditions).length > 0) {
      problems.add(prop, p.toString(), 'a principal without conditions of its own (for an organization, set principalOrgId and trust iam.AnyPrincipal)');
      return;
    }
    if (p instanceof iam.AccountPrincipal && typeof p.accountId === 'string' && !isToken(p.accountId)) {
      // The bare account id: what trustedAccountIds renders, rather than a joined root ARN.
      checkAccountId(problems, prop, p.accountId);
      entries.push({ principal: p.accountId, externalId: shared, accountId: p.accountId });
      return;
    }
    for (const [kind, values] of Object.entries(fragment.principalJson)) {
      for (const value of values) {
        // StarPrincipal renders as the literal "Principal": "*"; AnyPrincipal as {"AWS": "*"}.
        if (value === STAR && (kind === 'AWS' || kind === 'LiteralString')) {
          if (!orgNarrowed) problems.add(prop, p.toString(), starMessage);
          entries.push({ principal: STAR, externalId: shared });
        } else if (kind !== 'AWS') {
          problems.add(prop, p.toString(), `an AWS principal (an account, role or user); a ${kind} principal cannot present an external id`);
        } else {
          const account = !isToken(value) && /^\d{12}$/.test(value) ? value : undefined;
          entries.push({ principal: value, externalId: shared, accountId: account });
        }
      }
    }
  });

  const seen = new Set<string>();
  installs.forEach((install, i) => {
    const prop = `trustedInstalls[${i}]`;
    checkAccountId(problems, `${prop}.accountId`, install.accountId);
    if (!isToken(install.accountId)) {
      if (seen.has(install.accountId)) {
        problems.add(`${prop}.accountId`, install.accountId, 'each account once in trustedInstalls (mark a removed install revoked rather than listing it again)');
      }
      seen.add(install.accountId);
    }
    if (install.roleArn !== undefined) {
      checkRoleArn(problems, `${prop}.roleArn`, install.roleArn);
      if (!isToken(install.roleArn) && !isToken(install.accountId) && install.roleArn.split(':')[4] !== install.accountId) {
        problems.add(`${prop}.roleArn`, install.roleArn, `a role of the install's account ${install.accountId}`);
      }
    }
    if (install.externalId !== undefined) {
      checkTrustExternalId(problems, `${prop}.externalId`, install.externalId);
    }
  });

  if (sharded) {
    const perRole = props.installsPerRole!;
    if (!Number.isInteger(perRole) || perRole < 1) {
      problems.add('installsPerRole', perRole, 'a whole number of installs per role, at least 1');
    }
    if (accountIds.length + roleArns.length + principals.length > 0) {
      problems.add('trustedAccountIds, trustedRoleArns, trustedPrincipals', `${accountIds.length + roleArns.length + principals.length} principals`,
        'none with installsPerRole: list every install in trustedInstalls, in onboarding order (the order assigns installs to roles)');
    }
    if (props.roleName === undefined) {
      problems.add('roleName', undefined, 'a role name prefix with installsPerRole, so every install\'s role ARN is known at synth');
    } else if (!isToken(props.roleName) && Number.isInteger(perRole) && perRole >= 1) {
      const suffix = `-${Math.max(0, Math.ceil(installs.length / perRole) - 1)}`;
      checkRoleName(problems, 'roleName', `${props.roleName}${suffix}`);
    }
    if (isToken(props.roleName)) {
      problems.add('roleName', props.roleName, 'a literal role name prefix with installsPerRole');
    }
  } else if (props.roleName !== undefined) {
    checkRoleName(problems, 'roleName', props.roleName);
  }

  if (!isToken(accountIds) && !isToken(roleArns) && accountIds.length + roleArns.length + principals.length === 0
    && installs.filter((i) => !i.revoked).length === 0) {
    problems.add('trustedAccountIds, trustedRoleArns, trustedPrincipals, trustedInstalls', [],
      'at least one trusted principal in total (an account id, a role ARN, an iam.IPrincipal or an install that is not revoked)');
  }
  if (props.principalOrgId !== undefined) {
    checkOrganizationId(problems, 'principalOrgId', props.principalOrgId);
  }
  const quota = props.trustPolicySizeQuota;
  if (quota !== undefined && (!Number.isInteger(quota) || quota < DEFAULT_TRUST_POLICY_QUOTA || quota > MAX_TRUST_POLICY_QUOTA)) {
    problems.add('trustPolicySizeQuota', quota,
      `IAM's role trust policy length quota of the account: a whole number from ${DEFAULT_TRUST_POLICY_QUOTA} (the default) to ${MAX_TRUST_POLICY_QUOTA}`);
  }
  if (props.maxSessionDuration !== undefined) {
    checkWholeSeconds(problems, 'maxSessionDuration', props.maxSessionDuration, 3600, 12 * 3600, 'between 1 and 12 hours',
      'iam.Role needs it at synth time');
  }
  problems.throwIfAny();
  return entries;
}

function checkTrustExternalId(problems: ValidationProblems, prop: string, value: string): void {
  if (isToken(value)) return;
  const before = problems.messages.length;
  checkExternalId(problems, prop, value);
  if (problems.messages.length === before && value.length < MIN_EXTERNAL_ID_LENGTH) {
    problems.add(prop, value,
      `at least ${MIN_EXTERNAL_ID_LENGTH} characters: the external id is not a secret (it is in every install's template and in the ` +
      'provider framework\'s logs), but it must be unique to this vendor and install so that a third party cannot reuse a trusted ' +
      'principal against this role (confused deputy); use e.g. 16 or more random letters and digits');
  }
}
