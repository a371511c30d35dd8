import { Duration, Token } from 'aws-cdk-lib';
import { isEcrRepositoryName } from './ecr-names';
import { isDigest, isTag } from '../image-reference';

/**
 * Collects every problem found in a construct's props, so that one synth reports all of them
 * in a single message instead of failing on the first.
 *
 * Each problem names the prop, shows the value (JSON) and says what is allowed.
 */
export class ValidationProblems {
  private readonly problems: string[] = [];

  /**
   * @param construct the construct (or factory) whose props are checked, e.g. 'TenantRepository'
   */
  constructor(private readonly construct: string) {}

  /** Records that `value` of `prop` is not allowed, and what would be. */
  public add(prop: string, value: unknown, allowed: string): void {
    this.problems.push(`${prop}: ${show(value)} is not allowed: ${allowed}`);
  }

  /** True when no problem was recorded. */
  public get isEmpty(): boolean {
    return this.problems.length === 0;
  }

  /** The problems recorded so far, one line each. */
  public get messages(): string[] {
    return [...this.problems];
  }

  /** Throws one Error listing every recorded problem; does nothing when there is none. */
  public throwIfAny(): void {
    if (this.isEmpty) {
      return;
    }
    throw new Error(`Invalid ${this.construct} props:\n${this.problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const MAX_SHOWN = 120;

/** JSON of a value for messages, shortened when long. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}... (${text.length} characters)` : text;
}

/**
 * True when the value holds an unresolved token (a string, number or list token): such values are
 * only known at deploy time and are never validated at synth time.
 */
export function isToken(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'number') {
    return Token.isUnresolved(value);
  }
  return value !== null && typeof value === 'object' && Token.isUnresolved(value);
}

function skip(value: unknown): boolean {
  return value === undefined || isToken(value);
}

const ACCOUNT_ID = /^\d{12}$/;

/** An AWS account id: exactly 12 digits. */
export function checkAccountId(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !ACCOUNT_ID.test(value)) {
    p.add(prop, value, 'an AWS account id is exactly 12 digits, e.g. "123456789012"');
  }
}

/** Options of {@link checkArn}. */
export interface ArnCheckOptions {
  /** The service the ARN must belong to, e.g. 'iam'. */
  readonly service?: string;
  /** The resource type the resource part must start with, e.g. 'role' (as in `role/name`). */
  readonly resourceType?: string;
}

// arn:partition:service:region:account-id:resource (region and account may be empty).
const ARN = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws|):(.+)$/;

/** An ARN, optionally of a given service and resource type. */
export function checkArn(p: ValidationProblems, prop: string, value: string, opts: ArnCheckOptions = {}): void {
  if (skip(value)) return;
  const what = opts.service
    ? `an ARN of the form arn:<partition>:${opts.service}:<region>:<account>:${opts.resourceType ? `${opts.resourceType}/...` : '<resource>'}`
    : 'an ARN of the form arn:<partition>:<service>:<region>:<account>:<resource>';
  const m = typeof value === 'string' ? ARN.exec(value) : null;
  if (!m) {
    p.add(prop, value, what);
    return;
  }
  const [, , service, , , resource] = m;
  if (opts.service && service !== opts.service) {
    p.add(prop, value, `${what} (service is "${service}")`);
    return;
  }
  if (opts.resourceType && !(resource.startsWith(`${opts.resourceType}/`) || resource.startsWith(`${opts.resourceType}:`))) {
    p.add(prop, value, `${what} (resource is "${resource}")`);
  }
}

// IAM role names: 1-64 of [\w+=,.@-]; paths: '/' or /segment/.../ of printable ASCII without spaces.
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\x21-\x7e]*\/)?[\w+=,.@-]{1,64}$/;

/** The ARN of an IAM role: `arn:<partition>:iam::<12 digits>:role/[path/]name`. */
export function checkRoleArn(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !ROLE_ARN.test(value)) {
    p.add(prop, value, 'an IAM role ARN arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>, name 1-64 of [A-Za-z0-9_+=,.@-]');
  }
}

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/** An IAM role name: 1-64 characters of `[\w+=,.@-]`. */
export function checkRoleName(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !ROLE_NAME.test(value)) {
    p.add(prop, value, 'a role name is 1-64 characters of letters, digits and _+=,.@-');
  }
}

const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** An sts:ExternalId: 2-1224 characters of `[\w+=,.@:/-]`. */
export function checkExternalId(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !EXTERNAL_ID.test(value)) {
    p.add(prop, value, 'an external id is 2-1224 characters of letters, digits and _+=,.@:/-');
  }
}

// The pattern of AWS::ECR::Repository's current resource schema (the OCI distribution name
// grammar): separators are ".", "_", "__" or any run of "-". The older API pattern allowed only
// single ".", "_" or "-", which rejects names ECR accepts today.

/** An ECR repository name: 2-256 characters, lowercase path segments separated by '/'. */
export function checkRepositoryName(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !isEcrRepositoryName(value)) {
    p.add(prop, value,
      'an ECR repository name is 2-256 characters: lowercase letters and digits joined by ".", "_", "__" or "-" runs, ' +
      'namespaces separated by "/", e.g. "acme/api"');
  }
}

/** An image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export function checkImageTag(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !isTag(value)) {
    p.add(prop, value, 'a tag is 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"');
  }
}

/** A content digest: `sha256:` and 64 lowercase hex digits. */
export function checkDigest(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !isDigest(value)) {
    p.add(prop, value, 'a digest is "sha256:" followed by 64 lowercase hex digits');
  }
}

/** A list with at least one element (an unresolved list token passes). */
export function checkNonEmpty(p: ValidationProblems, prop: string, list: unknown[] | undefined): void {
  if (list !== undefined && isToken(list)) return;
  if (!Array.isArray(list) || list.length === 0) {
    p.add(prop, list, 'at least one element is required');
  }
}

const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;

/** An AWS Organizations id (`aws:PrincipalOrgID`): `o-` and 10-32 lowercase letters or digits. */
export function checkOrganizationId(p: ValidationProblems, prop: string, value: string): void {
  if (skip(value)) return;
  if (typeof value !== 'string' || !ORGANIZATION_ID.test(value)) {
    p.add(prop, value, 'an organization id is "o-" and 10-32 lowercase letters or digits, e.g. "o-a1b2c3d4e5"');
  }
}

/**
 * A duration of whole seconds between `minSeconds` and `maxSeconds`. A token is skipped unless
 * `concrete` says why it must be known at synth time.
 *
 * @returns the seconds, or undefined when the value was a token or a problem was recorded
 */
export function checkWholeSeconds(
  p: ValidationProblems, prop: string, value: Duration, minSeconds: number, maxSeconds: number, range: string, concrete?: string,
  display: (value: Duration, seconds: number) => string = (d) => d.toHumanString(),
): number | undefined {
  if (value.isUnresolved()) {
    if (concrete) {
      p.add(prop, '<token>', `a concrete duration ${range} (${concrete})`);
    }
    return undefined;
  }
  const millis = value.toMilliseconds();
  if (millis % 1000 !== 0) {
    p.add(prop, `${millis} milliseconds`, `a whole number of seconds ${range}`);
    return undefined;
  }
  const seconds = millis / 1000;
  if (seconds < minSeconds || seconds > maxSeconds) {
    p.add(prop, display(value, seconds), range);
    return undefined;
  }
  return seconds;
}
