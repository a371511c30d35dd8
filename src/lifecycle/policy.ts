import { Duration, Token } from 'aws-cdk-lib';
import { MAX_POLICY_TEXT_LENGTH, MIN_DAYS_IN_ARCHIVE, MIN_POLICY_TEXT_LENGTH, PolicyCheck, PolicyRule } from './policy-json';
import { previewRules } from './preview';
import { LifecyclePreviewImage, LifecyclePreviewResult } from './preview-types';
import { LifecycleActionType, LifecyclePolicyRule, LifecycleStorageClass } from './rules';
import { checkPolicyDocument } from './validate';
import { show } from '../private/validation';

interface Source {
  /** Rules as policy JSON objects, in the order they were given (not yet validated); undefined when unreadable. */
  readonly entries?: unknown[];
  /** Problems found before the JSON checks (parse errors, struct conversion). */
  readonly earlyErrors: string[];
  /** The text the policy was read from, when it was read from text. */
  readonly text?: string;
}

/**
 * An ECR lifecycle policy: built from `LifecyclePolicyRule` structs or read from policy JSON,
 * validated against everything ECR rejects, rendered deterministically, and previewed
 * against a list of images exactly as ECR's documented evaluation would act.
 *
 * Needs no construct: use it in a script or a test as well as in a stack.
 */
export class LifecyclePolicy {
  /**
   * A policy from rules listed in evaluation order. Rules without `rulePriority` get one more
   * than the rule before them. Problems are reported by `validate()` and thrown by
   * `renderPolicyText()` and `preview()`, all of them in one message.
   */
  public static fromRules(rules: LifecyclePolicyRule[]): LifecyclePolicy {
    const earlyErrors: string[] = [];
    const entries = rulesToJson(rules, 0, 0, earlyErrors);
    return new LifecyclePolicy({ entries, earlyErrors });
  }

  /**
   * A policy from ECR lifecycle policy JSON (what `aws ecr get-lifecycle-policy` returns as
   * `lifecyclePolicyText`). Throws one Error listing every problem when ECR would reject it.
   */
  public static fromPolicyText(text: string): LifecyclePolicy {
    const earlyErrors: string[] = [];
    let entries: unknown[] | undefined;
    if (typeof text !== 'string') {
      earlyErrors.push(`policy text: ${show(text)} is not allowed: a JSON string`);
    } else {
      if (text.length < MIN_POLICY_TEXT_LENGTH || text.length > MAX_POLICY_TEXT_LENGTH) {
        earlyErrors.push(`policy text: ${text.length} characters is not allowed: `
          + `${MIN_POLICY_TEXT_LENGTH} to ${MAX_POLICY_TEXT_LENGTH} characters`);
      }
      let doc: unknown;
      let parsed = false;
      try {
        doc = JSON.parse(text);
        parsed = true;
      } catch (e) {
        earlyErrors.push(`policy text: ${show(text)} is not allowed: valid JSON (${(e as Error).message})`);
      }
      if (parsed && isRulesDocument(doc)) {
        const record = doc as Record<string, unknown>;
        entries = record.rules as unknown[];
        for (const key of Object.keys(record).filter((k) => k !== 'rules')) {
          earlyErrors.push(`policy.${key}: ${show(record[key])} is not allowed: the policy has only a "rules" list`);
        }
      } else if (parsed) {
        earlyErrors.push(...checkPolicyDocument(doc).errors);
      }
    }
    const policy = new LifecyclePolicy({ entries, earlyErrors, text });
    policy.throwIfInvalid();
    return policy;
  }

  private readonly source: Source;
  private checked?: PolicyCheck;

  private constructor(source: Source) {
    this.source = source;
  }

  /**
   * A new policy with `rules` evaluated after this policy's rules: rules without
   * `rulePriority` get one more than the highest priority so far.
   */
  public withRules(rules: LifecyclePolicyRule[]): LifecyclePolicy {
    const earlyErrors = [...this.source.earlyErrors];
    const existing = this.source.entries ?? [];
    const highest = Math.max(0, ...existing.map(priorityOf).filter((p): p is number => p !== undefined));
    const entries = [...existing, ...rulesToJson(rules, highest, existing.length, earlyErrors)];
    return new LifecyclePolicy({ entries, earlyErrors });
  }

  /**
   * Every reason ECR would reject this policy, one line each, naming the rule (index and
   * priority), the field, the value and what is allowed. Empty when the policy is valid.
   */
  public validate(): string[] {
    return [...this.check().errors];
  }

  /**
   * Rules that can never act (every image they select belongs to an earlier rule), one line
   * each. Empty when the policy is invalid: fix the errors first.
   */
  public warnings(): string[] {
    return [...this.check().warnings];
  }

  /**
   * The policy JSON for ECR (`lifecyclePolicyText`): rules sorted by priority, fields in a fixed
   * order, absent fields left out (never `null`). Throws when the policy is invalid.
   */
  public renderPolicyText(): string {
    return renderRules(this.validRules());
  }

  /**
   * What ECR would expire or transition among `images` at `now`, one result per image acted on,
   * ordered by the applied rule's priority, then oldest first. Throws when the policy is invalid.
   *
   * @param images the repository's images, as `DescribeImages` reports them
   * @param now the evaluation time (default: the current time)
   */
  public preview(images: LifecyclePreviewImage[], now?: Date): LifecyclePreviewResult[] {
    return previewRules(this.validRules(), images, now ?? new Date());
  }

  private validRules(): PolicyRule[] {
    this.throwIfInvalid();
    return this.check().rules!;
  }

  private throwIfInvalid(): void {
    const errors = this.check().errors;
    if (errors.length > 0) {
      throw new Error(`Invalid lifecycle policy:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    }
  }

  private check(): PolicyCheck {
    if (!this.checked && this.source.entries === undefined) {
      this.checked = { errors: [...this.source.earlyErrors], warnings: [] };
    }
    if (!this.checked) {
      const result = checkPolicyDocument({ rules: this.source.entries }, this.source.earlyErrors);
      if (result.rules && this.source.text === undefined) {
        const length = renderRules(result.rules).length;
        if (length < MIN_POLICY_TEXT_LENGTH || length > MAX_POLICY_TEXT_LENGTH) {
          result.errors.push(`policy text: ${length} characters is not allowed: `
            + `${MIN_POLICY_TEXT_LENGTH} to ${MAX_POLICY_TEXT_LENGTH} characters (ECR's limit on the rendered policy)`);
        }
      }
      this.checked = result.errors.length > 0 ? { errors: result.errors, warnings: [] } : result;
    }
    return this.checked;
  }
}

function isRulesDocument(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc)
    && Array.isArray((doc as { rules?: unknown }).rules) && (doc as { rules: unknown[] }).rules.length > 0;
}

function priorityOf(entry: unknown): number | undefined {
  const p = typeof entry === 'object' && entry !== null ? (entry as { rulePriority?: unknown }).rulePriority : undefined;
  return typeof p === 'number' && Number.isInteger(p) ? p : undefined;
}

/** Renders validated rules: sorted by priority, fixed key order, compact JSON. */
function renderRules(rules: PolicyRule[]): string {
  const ordered = [...rules].sort((a, b) => a.rulePriority - b.rulePriority);
  return JSON.stringify({
    rules: ordered.map((rule) => {
      const s = rule.selection;
      return {
        rulePriority: rule.rulePriority,
        ...(rule.description !== undefined ? { description: rule.description } : {}),
        selection: {
          tagStatus: s.tagStatus,
          ...(s.tagPatternList !== undefined ? { tagPatternList: [...s.tagPatternList] } : {}),
          ...(s.tagPrefixList !== undefined ? { tagPrefixList: [...s.tagPrefixList] } : {}),
          ...(s.storageClass !== undefined ? { storageClass: s.storageClass } : {}),
          countType: s.countType,
          ...(s.countUnit !== undefined ? { countUnit: s.countUnit } : {}),
          countNumber: s.countNumber,
        },
        action: {
          type: rule.action.type,
          ...(rule.action.targetStorageClass !== undefined ? { targetStorageClass: rule.action.targetStorageClass } : {}),
        },
      };
    }),
  });
}

const CRITERIA = ['maxImageCount', 'maxImageAge', 'maxTimeSinceLastPull', 'maxTimeInArchive'] as const;

/**
 * Converts `LifecyclePolicyRule` structs to policy JSON objects. Priorities default to one more than
 * the previous rule's; problems only a struct can have are added to `errors`.
 */
function rulesToJson(rules: LifecyclePolicyRule[], previousPriority: number, firstIndex: number, errors: string[]): unknown[] {
  if (!Array.isArray(rules)) {
    errors.push(`rules: ${show(rules)} is not allowed: a list of LifecyclePolicyRule`);
    return [];
  }
  let previous = previousPriority;
  return rules.map((rule, i) => {
    const index = firstIndex + i;
    let priority: unknown = rule.rulePriority;
    if (priority === undefined) {
      priority = previous + 1;
    }
    const tokenPriority = typeof priority === 'number' && Token.isUnresolved(priority);
    const label = !tokenPriority && typeof priority === 'number' && Number.isInteger(priority)
      ? `rules[${index}] (rulePriority ${priority})` : `rules[${index}]`;
    const problem = (field: string, value: unknown, allowed: string) => errors.push(`${label}: ${field}: ${show(value)} is not allowed: ${allowed}`);
    if (tokenPriority) {
      problem('rulePriority', '<token>', 'a concrete whole number (lifecycle rules are rendered at synth time)');
      // Reported once: the JSON checks see the next free priority instead of the token.
      priority = previous + 1;
    }
    if (typeof priority === 'number' && Number.isInteger(priority)) {
      previous = priority;
    }

    const set = CRITERIA.filter((name) => rule[name] !== undefined);
    if (set.length !== 1) {
      problem(set.length === 0 ? CRITERIA.join('/') : set.join(', '), set.length === 0 ? undefined : set.map((name) => describe(rule[name])),
        `exactly one of ${CRITERIA.join(', ')}`);
    }
    const criterion = set[0];
    // Placeholders keep a rule whose problem is already reported from being reported twice.
    const PLACEHOLDER = 1;

    let countType: string;
    let countNumber: unknown;
    switch (criterion) {
      case 'maxImageCount':
        countType = 'imageCountMoreThan';
        countNumber = rule.maxImageCount;
        if (typeof countNumber === 'number' && Token.isUnresolved(countNumber)) {
          problem('maxImageCount', '<token>', 'a concrete whole number (lifecycle rules are rendered at synth time)');
          countNumber = PLACEHOLDER;
        }
        break;
      case 'maxImageAge':
        countType = 'sinceImagePushed';
        countNumber = days(rule.maxImageAge, 'maxImageAge', problem) ?? PLACEHOLDER;
        break;
      case 'maxTimeSinceLastPull':
        countType = 'sinceImagePulled';
        countNumber = days(rule.maxTimeSinceLastPull, 'maxTimeSinceLastPull', problem) ?? PLACEHOLDER;
        break;
      case 'maxTimeInArchive':
        countType = 'sinceImageTransitioned';
        countNumber = days(rule.maxTimeInArchive, 'maxTimeInArchive', problem) ?? MIN_DAYS_IN_ARCHIVE;
        break;
      default:
        countType = 'imageCountMoreThan';
        countNumber = PLACEHOLDER;
        break;
    }

    // ecr.TagStatus values are the policy JSON's words already; the CLI bundle needs no aws-ecr at run time.
    const tagStatus: string = rule.tagStatus ?? (rule.tagPrefixList !== undefined || rule.tagPatternList !== undefined ? 'tagged' : 'any');
    const storageClass = rule.storageClass ?? (criterion === 'maxTimeInArchive' ? LifecycleStorageClass.ARCHIVE : LifecycleStorageClass.STANDARD);
    const action = rule.action ?? (criterion === 'maxTimeSinceLastPull' ? LifecycleActionType.TRANSITION : LifecycleActionType.EXPIRE);

    const selection: Record<string, unknown> = { tagStatus: enumWord(tagStatus) };
    if (rule.tagPatternList !== undefined) {
      selection.tagPatternList = rule.tagPatternList;
    }
    if (rule.tagPrefixList !== undefined) {
      selection.tagPrefixList = rule.tagPrefixList;
    }
    if (storageClass !== LifecycleStorageClass.STANDARD) {
      selection.storageClass = enumWord(storageClass);
    }
    selection.countType = countType;
    if (countType !== 'imageCountMoreThan') {
      selection.countUnit = 'days';
    }
    selection.countNumber = countNumber;
    const actionJson: Record<string, unknown> = { type: enumWord(action) };
    if (action === LifecycleActionType.TRANSITION) {
      actionJson.targetStorageClass = 'archive';
    }
    const json: Record<string, unknown> = { rulePriority: priority };
    if (rule.description !== undefined) {
      json.description = rule.description;
    }
    json.selection = selection;
    json.action = actionJson;
    return json;
  });
}

/** The policy JSON word of an enum value (policy JSON is lower case; unknown values pass through to be reported). */
function enumWord(value: unknown): unknown {
  return typeof value === 'string' && /^[A-Z_]+$/.test(value) ? value.toLowerCase() : value;
}

function describe(value: unknown): unknown {
  return value instanceof Duration ? value.toHumanString() : value;
}

function days(
  duration: Duration | undefined,
  field: string,
  problem: (field: string, value: unknown, allowed: string) => void,
): number | undefined {
  if (!(duration instanceof Duration)) {
    problem(field, duration, 'a Duration of whole days');
    return undefined;
  }
  if (duration.isUnresolved()) {
    problem(field, '<token>', 'a concrete Duration of whole days (lifecycle rules are rendered at synth time)');
    return undefined;
  }
  const value = duration.toDays({ integral: false });
  if (!Number.isInteger(value) || value < 1) {
    problem(field, duration.toHumanString(), 'a whole number of days, at least 1');
    return undefined;
  }
  return value;
}
