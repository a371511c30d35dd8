/**
 * The access role's trust policy as plain data: which principals, under which external id, and
 * how long IAM will count the document. No CDK here, so the arithmetic can be read and tested on
 * its own.
 */

/** One principal the trust names, and the external id it must present. */
export interface TrustEntry {
  /**
   * What the policy renders under `Principal.AWS`: a 12-digit account id, an IAM role ARN, `*`, or
   * an unresolved token (a role of another stack).
   */
  readonly principal: string;
  /** The external id of this principal's statements. */
  readonly externalId: string;
}

/** The conditions every statement carries besides the external id. */
export interface TrustOptions {
  /** `aws:PrincipalOrgID`, when the trust is narrowed to an organization. */
  readonly principalOrgId?: string;
  /** The session tag keys `sts:TagSession` allows (`aws:TagKeys`). */
  readonly sessionTagKeys: readonly string[];
}

/** A trust policy statement, shaped as IAM reads it. */
export interface TrustStatement {
  readonly Effect: 'Allow';
  readonly Principal: { readonly AWS: string | string[] };
  readonly Action: string;
  readonly Condition: { readonly [operator: string]: { readonly [key: string]: string | string[] } };
}

/** A trust policy document. */
export interface TrustDocument {
  readonly Version: '2012-10-17';
  readonly Statement: TrustStatement[];
}

/**
 * The trust document: for each distinct external id (in order of first use), one `sts:AssumeRole`
 * statement naming every principal that presents it, and one `sts:TagSession` statement with the
 * same principals and conditions that allows only the given tag keys.
 *
 * One statement per external id rather than per principal keeps the document compact whatever
 * `@aws-cdk/aws-iam:minimizePolicies` says: without that flag aws-cdk-lib renders each
 * `AccountPrincipal` as a statement of its own (about 186 characters each).
 */
export function trustDocument(entries: readonly TrustEntry[], options: TrustOptions): TrustDocument {
  const byExternalId = new Map<string, string[]>();
  for (const e of entries) {
    const principals = byExternalId.get(e.externalId) ?? [];
    if (!principals.includes(e.principal)) principals.push(e.principal);
    byExternalId.set(e.externalId, principals);
  }
  const statements: TrustStatement[] = [];
  for (const [externalId, principals] of byExternalId) {
    const equals: { [key: string]: string } = { 'sts:ExternalId': externalId };
    if (options.principalOrgId !== undefined) equals['aws:PrincipalOrgID'] = options.principalOrgId;
    const principal = { AWS: principals.length === 1 ? principals[0] : principals };
    statements.push({ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', Condition: { StringEquals: equals } });
    const keys = options.sessionTagKeys.length === 1 ? options.sessionTagKeys[0] : [...options.sessionTagKeys];
    statements.push({
      Effect: 'Allow',
      Principal: principal,
      Action: 'sts:TagSession',
      // ForAllValues: every tag key of the request must be listed (an untagged session passes).
      Condition: { 'StringEquals': equals, 'ForAllValues:StringEquals': { 'aws:TagKeys': keys } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** How to count what synth cannot see. */
export interface SizeAssumptions {
  /**
   * The partition IAM writes into the root ARN of an account principal (`aws`, `aws-cn`, ...).
   */
  readonly partition: string;
  /** True when `s` is an unresolved token, whose length is not known at synth. */
  readonly isToken: (s: string) => boolean;
  /** The length to count for an unresolved token that stands for a principal ARN. */
  readonly tokenPrincipalLength: number;
  /** The length to count for an unresolved token anywhere else (an external id, an org id). */
  readonly tokenValueLength: number;
}

/**
 * The number of characters IAM counts for the document against the role trust policy quota
 * (`ACLSizePerRole`): the JSON without whitespace, as IAM does not count white space.
 *
 * An account id principal counts as the root ARN `arn:<partition>:iam::<account>:root`: IAM stores
 * the short form as that ARN, and counting the longer form is the safe side of not knowing which
 * one IAM measures. Tokens count at the stand-in lengths of `assumptions`.
 */
export function trustPolicyLength(doc: TrustDocument, assumptions: SizeAssumptions): number {
  const principalText = (p: string): string => {
    if (/^\d{12}$/.test(p)) return `arn:${assumptions.partition}:iam::${p}:root`;
    if (assumptions.isToken(p)) return 'x'.repeat(assumptions.tokenPrincipalLength);
    return p;
  };
  const valueText = (v: string): string => (assumptions.isToken(v) ? 'x'.repeat(assumptions.tokenValueLength) : v);
  const counted = {
    Version: doc.Version,
    Statement: doc.Statement.map((s) => ({
      Effect: s.Effect,
      Principal: { AWS: Array.isArray(s.Principal.AWS) ? s.Principal.AWS.map(principalText) : principalText(s.Principal.AWS) },
      Action: s.Action,
      Condition: Object.fromEntries(Object.entries(s.Condition).map(([op, kv]) => [op, Object.fromEntries(
        Object.entries(kv).map(([k, v]) => [k, Array.isArray(v) ? v.map(valueText) : valueText(v)]),
      )])),
    })),
  };
  return JSON.stringify(counted).length;
}

/** The partitions' names, longest first: the one to assume when the stack's partition is not known. */
export const LONGEST_PARTITION = 'aws-us-gov';
