/**
 * The words, limits and shapes of ECR's lifecycle policy JSON, shared by its validation, rendering
 * and preview.
 */

/** The tag status words of the policy JSON. */
export type TagStatusWord = 'tagged' | 'untagged' | 'any';
/** The storage class words of the policy JSON. */
export type StorageClassWord = 'standard' | 'archive';
/** The count types of the policy JSON. */
export type CountTypeWord = 'imageCountMoreThan' | 'sinceImagePushed' | 'sinceImagePulled' | 'sinceImageTransitioned';
/** The action words of the policy JSON. */
export type ActionWord = 'expire' | 'transition';

/** A rule that passed validation, with the fields ECR knows (absent fields stay absent). */
export interface PolicyRule {
  readonly rulePriority: number;
  readonly description?: string;
  readonly selection: {
    readonly tagStatus: TagStatusWord;
    readonly tagPatternList?: string[];
    readonly tagPrefixList?: string[];
    readonly storageClass?: StorageClassWord;
    readonly countType: CountTypeWord;
    readonly countUnit?: 'days';
    readonly countNumber: number;
  };
  readonly action: {
    readonly type: ActionWord;
    readonly targetStorageClass?: 'archive';
  };
}

/** What validation found. `rules` is set only when there is no error. */
export interface PolicyCheck {
  readonly errors: string[];
  readonly warnings: string[];
  readonly rules?: PolicyRule[];
}

/** ECR's limits on the policy text (PutLifecyclePolicy's lifecyclePolicyText). */
export const MIN_POLICY_TEXT_LENGTH = 100;
export const MAX_POLICY_TEXT_LENGTH = 30_720;
/** At most four `*` per tag pattern. */
export const MAX_WILDCARDS_PER_PATTERN = 4;
/** Archived images must stay archived 90 days before a lifecycle rule may delete them. */
export const MIN_DAYS_IN_ARCHIVE = 90;
/** ECR image tags are at most 128 characters. */
export const MAX_TAG_LENGTH = 128;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** The label of a rule in messages: its position in `rules` and, when valid, its priority. */
export function ruleLabel(index: number, rule: unknown): string {
  const priority = isObject(rule) ? rule.rulePriority : undefined;
  return isWholeNumber(priority) ? `rules[${index}] (rulePriority ${priority})` : `rules[${index}]`;
}

/** The regular expression a tag pattern stands for: `*` is any run, the rest literal, whole tag. */
export function patternRegExp(pattern: string): RegExp {
  const body = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}
