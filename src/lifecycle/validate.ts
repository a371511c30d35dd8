/**
 * Validation of ECR lifecycle policy documents: everything ECR rejects (errors) and rules that can
 * never act (warnings). Works on parsed JSON of unknown shape, so the same checks serve raw policy
 * text and rules built from `LifecyclePolicyRule` structs.
 */

import {
  isObject, isWholeNumber, MAX_TAG_LENGTH, MAX_WILDCARDS_PER_PATTERN, MIN_DAYS_IN_ARCHIVE, PolicyCheck, PolicyRule, ruleLabel, StorageClassWord,
} from './policy-json';
import { show } from '../private/validation';


const TAG_STATUSES: readonly string[] = ['tagged', 'untagged', 'any'];
const STORAGE_CLASSES: readonly string[] = ['standard', 'archive'];
const COUNT_TYPES: readonly string[] = ['imageCountMoreThan', 'sinceImagePushed', 'sinceImagePulled', 'sinceImageTransitioned'];
const SINCE_TYPES: readonly string[] = ['sinceImagePushed', 'sinceImagePulled', 'sinceImageTransitioned'];
const ACTIONS: readonly string[] = ['expire', 'transition'];
const RULE_KEYS: readonly string[] = ['rulePriority', 'description', 'selection', 'action'];
const SELECTION_KEYS: readonly string[] = ['tagStatus', 'tagPatternList', 'tagPrefixList', 'storageClass', 'countType', 'countUnit', 'countNumber'];
const ACTION_KEYS: readonly string[] = ['type', 'targetStorageClass'];

const PREFIX_CHARS = /^[A-Za-z0-9_.-]+$/;
const PATTERN_CHARS = /^[A-Za-z0-9_.*-]+$/;

function oneOf(words: readonly string[]): string {
  return `one of ${words.map((w) => JSON.stringify(w)).join(', ')}`;
}

/**
 * Validates a parsed lifecycle policy document. `extraErrors` are problems found earlier (for
 * example while converting `LifecyclePolicyRule` structs) that belong in the same message.
 */
export function checkPolicyDocument(doc: unknown, extraErrors: string[] = []): PolicyCheck {
  const errors = [...extraErrors];
  if (!isObject(doc)) {
    errors.push(`policy: ${show(doc)} is not allowed: a JSON object with a "rules" list`);
    return { errors, warnings: [] };
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'rules') {
      errors.push(`policy.${key}: ${show(doc[key])} is not allowed: the policy has only a "rules" list`);
    }
  }
  const rules = doc.rules;
  if (!Array.isArray(rules) || rules.length === 0) {
    errors.push(`rules: ${show(rules)} is not allowed: a list of at least one rule`);
    return { errors, warnings: [] };
  }

  const checked: Array<PolicyRule | undefined> = rules.map((rule, index) => checkRule(rule, index, errors));
  checkAcrossRules(rules, errors);
  if (errors.length > 0) {
    return { errors, warnings: [] };
  }
  const valid = checked as PolicyRule[];
  return { errors, warnings: neverActingRules(rules, valid), rules: valid };
}

function checkRule(rule: unknown, index: number, errors: string[]): PolicyRule | undefined {
  const label = ruleLabel(index, rule);
  const problem = (field: string, value: unknown, allowed: string) => {
    errors.push(`${label}: ${field}: ${show(value)} is not allowed: ${allowed}`);
  };
  if (!isObject(rule)) {
    problem('rule', rule, 'an object with rulePriority, selection and action');
    return undefined;
  }
  const before = errors.length;
  for (const key of Object.keys(rule)) {
    if (!RULE_KEYS.includes(key)) {
      problem(key, rule[key], `not a rule field; a rule has ${RULE_KEYS.join(', ')}`);
    }
  }
  if (!isWholeNumber(rule.rulePriority) || rule.rulePriority < 1) {
    problem('rulePriority', rule.rulePriority, 'a whole number of at least 1, unique in the policy');
  }
  if (rule.description !== undefined && typeof rule.description !== 'string') {
    problem('description', rule.description, 'a string');
  }

  const selection = isObject(rule.selection) ? rule.selection : undefined;
  if (!selection) {
    problem('selection', rule.selection, 'an object with tagStatus, countType and countNumber');
  }
  const action = isObject(rule.action) ? rule.action : undefined;
  if (!action) {
    problem('action', rule.action, `an object with type (${oneOf(ACTIONS)})`);
  }
  if (!selection || !action) {
    return undefined;
  }
  for (const key of Object.keys(selection)) {
    if (!SELECTION_KEYS.includes(key)) {
      problem(`selection.${key}`, selection[key], `not a selection field; a selection has ${SELECTION_KEYS.join(', ')}`);
    }
  }
  for (const key of Object.keys(action)) {
    if (!ACTION_KEYS.includes(key)) {
      problem(`action.${key}`, action[key], `not an action field; an action has ${ACTION_KEYS.join(', ')}`);
    }
  }

  // Tag selection.
  const tagStatus = selection.tagStatus;
  if (typeof tagStatus !== 'string' || !TAG_STATUSES.includes(tagStatus)) {
    problem('selection.tagStatus', tagStatus, oneOf(TAG_STATUSES));
  }
  const prefixes = selection.tagPrefixList;
  const patterns = selection.tagPatternList;
  if (tagStatus === 'tagged') {
    if (prefixes === undefined && patterns === undefined) {
      problem('selection.tagPrefixList/tagPatternList', undefined, 'a tagged rule needs exactly one of tagPrefixList and tagPatternList');
    } else if (prefixes !== undefined && patterns !== undefined) {
      problem('selection.tagPrefixList/tagPatternList', { tagPrefixList: prefixes, tagPatternList: patterns },
        'a tagged rule takes only one of tagPrefixList and tagPatternList');
    }
  } else if (typeof tagStatus === 'string' && TAG_STATUSES.includes(tagStatus)) {
    if (prefixes !== undefined) {
      problem('selection.tagPrefixList', prefixes, `only allowed with tagStatus "tagged" (this rule is ${JSON.stringify(tagStatus)})`);
    }
    if (patterns !== undefined) {
      problem('selection.tagPatternList', patterns, `only allowed with tagStatus "tagged" (this rule is ${JSON.stringify(tagStatus)})`);
    }
  }
  if (prefixes !== undefined) {
    checkTagList('selection.tagPrefixList', prefixes, false, problem);
  }
  if (patterns !== undefined) {
    checkTagList('selection.tagPatternList', patterns, true, problem);
  }

  // Counting.
  const countType = selection.countType;
  const knownCountType = typeof countType === 'string' && COUNT_TYPES.includes(countType);
  if (!knownCountType) {
    problem('selection.countType', countType, oneOf(COUNT_TYPES));
  }
  const countUnit = selection.countUnit;
  if (knownCountType && SINCE_TYPES.includes(countType as string)) {
    if (countUnit !== 'days') {
      problem('selection.countUnit', countUnit, `"days" (required with countType ${JSON.stringify(countType)})`);
    }
  } else if (knownCountType && countUnit !== undefined) {
    problem('selection.countUnit', countUnit, `only allowed with countType ${SINCE_TYPES.map((t) => JSON.stringify(t)).join(', ')} (this rule is ${JSON.stringify(countType)})`);
  }
  const countNumber = selection.countNumber;
  if (!isWholeNumber(countNumber) || countNumber < 1) {
    problem('selection.countNumber', countNumber, 'a whole number of at least 1');
  } else if (countType === 'sinceImageTransitioned' && countNumber < MIN_DAYS_IN_ARCHIVE) {
    problem('selection.countNumber', countNumber,
      `at least ${MIN_DAYS_IN_ARCHIVE} with countType "sinceImageTransitioned" (archived images are kept ${MIN_DAYS_IN_ARCHIVE} days at least)`);
  }

  // Storage class and action.
  const storageClass = selection.storageClass;
  if (storageClass !== undefined && (typeof storageClass !== 'string' || !STORAGE_CLASSES.includes(storageClass))) {
    problem('selection.storageClass', storageClass, oneOf(STORAGE_CLASSES));
  } else if (countType === 'sinceImageTransitioned' && storageClass !== 'archive') {
    problem('selection.storageClass', storageClass, '"archive" (required with countType "sinceImageTransitioned")');
  } else if (knownCountType && countType !== 'sinceImageTransitioned' && storageClass === 'archive') {
    problem('selection.storageClass', storageClass, `"standard" with countType ${JSON.stringify(countType)}; archived images are selected only with "sinceImageTransitioned"`);
  }
  const type = action.type;
  if (typeof type !== 'string' || !ACTIONS.includes(type)) {
    problem('action.type', type, oneOf(ACTIONS));
  }
  const target = action.targetStorageClass;
  if (type === 'transition' && target !== 'archive') {
    problem('action.targetStorageClass', target, '"archive" (required with action type "transition")');
  } else if (type === 'expire' && target !== undefined) {
    problem('action.targetStorageClass', target, 'only allowed with action type "transition"');
  }
  if (countType === 'sinceImagePulled' && type === 'expire') {
    problem('action.type', type, '"transition" with countType "sinceImagePulled" (ECR archives unpulled images; expire them later with "sinceImageTransitioned")');
  }
  if (countType === 'sinceImageTransitioned' && type === 'transition') {
    problem('action.type', type, '"expire" with countType "sinceImageTransitioned" (the images are already archived)');
  }

  if (errors.length > before) {
    return undefined;
  }
  const out: Record<string, unknown> = { rulePriority: rule.rulePriority };
  if (rule.description !== undefined) {
    out.description = rule.description;
  }
  return { ...out, selection: { ...selection }, action: { ...action } } as unknown as PolicyRule;
}

function checkTagList(
  field: string,
  list: unknown,
  pattern: boolean,
  problem: (field: string, value: unknown, allowed: string) => void,
): void {
  const what = pattern
    ? `a non-empty list of tag patterns: 1-${MAX_TAG_LENGTH} characters of A-Z a-z 0-9 _ . - and *, at most ${MAX_WILDCARDS_PER_PATTERN} * each`
    : `a non-empty list of tag prefixes: 1-${MAX_TAG_LENGTH} characters of A-Z a-z 0-9 _ . -`;
  if (!Array.isArray(list) || list.length === 0) {
    problem(field, list, what);
    return;
  }
  list.forEach((entry, i) => {
    const entryField = `${field}[${i}]`;
    if (typeof entry !== 'string' || entry.length === 0 || entry.length > MAX_TAG_LENGTH
      || !(pattern ? PATTERN_CHARS : PREFIX_CHARS).test(entry)) {
      problem(entryField, entry, what);
      return;
    }
    if (pattern) {
      const wildcards = entry.split('*').length - 1;
      if (wildcards > MAX_WILDCARDS_PER_PATTERN) {
        problem(entryField, entry, `at most ${MAX_WILDCARDS_PER_PATTERN} wildcards (*) per pattern; this one has ${wildcards}`);
      }
    }
  });
}

/** The storage class a rule selects, from its (possibly invalid) JSON. */
function selectedClass(rule: unknown): StorageClassWord | undefined {
  if (!isObject(rule) || !isObject(rule.selection)) {
    return undefined;
  }
  const value = rule.selection.storageClass ?? 'standard';
  return value === 'standard' || value === 'archive' ? value : undefined;
}

function checkAcrossRules(rules: unknown[], errors: string[]): void {
  // Unique priorities.
  const byPriority = new Map<number, number[]>();
  rules.forEach((rule, index) => {
    const priority = isObject(rule) ? rule.rulePriority : undefined;
    if (isWholeNumber(priority)) {
      byPriority.set(priority, [...(byPriority.get(priority) ?? []), index]);
    }
  });
  for (const [priority, indexes] of byPriority) {
    if (indexes.length > 1) {
      errors.push(`${indexes.map((i) => `rules[${i}]`).join(', ')}: rulePriority: ${priority} is not allowed: `
        + 'each rule needs its own rulePriority');
    }
  }

  // Per storage class: the "any" rule last, one untagged rule, no repeated prefix list.
  for (const storageClass of STORAGE_CLASSES) {
    const members = rules
      .map((rule, index) => ({ rule, index }))
      .filter(({ rule }) => selectedClass(rule) === storageClass && isObject(rule) && isWholeNumber(rule.rulePriority));
    const status = (rule: unknown) => (isObject(rule) && isObject(rule.selection) ? rule.selection.tagStatus : undefined);
    const priorityOf = (rule: unknown) => (rule as { rulePriority: number }).rulePriority;
    const maxPriority = Math.max(...members.map(({ rule }) => priorityOf(rule)));
    for (const { rule, index } of members) {
      if (status(rule) === 'any' && priorityOf(rule) !== maxPriority) {
        errors.push(`${ruleLabel(index, rule)}: rulePriority: ${priorityOf(rule)} is not allowed: a rule with tagStatus "any" `
          + `must have the highest rulePriority of the ${storageClass} storage class rules (highest is ${maxPriority})`);
      }
    }
    const untagged = members.filter(({ rule }) => status(rule) === 'untagged');
    if (untagged.length > 1) {
      errors.push(`${untagged.map(({ rule, index }) => ruleLabel(index, rule)).join(', ')}: selection.tagStatus: "untagged" is not allowed: `
        + `only one rule of the ${storageClass} storage class may select untagged images`);
    }
    const seen = new Map<string, number>();
    for (const { rule, index } of members) {
      const list = isObject(rule) && isObject(rule.selection) ? rule.selection.tagPrefixList : undefined;
      if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) {
        continue;
      }
      const key = JSON.stringify([...new Set(list as string[])].sort());
      const first = seen.get(key);
      if (first !== undefined) {
        errors.push(`${ruleLabel(index, rule)}: selection.tagPrefixList: ${show(list)} is not allowed: `
          + `the ${storageClass} storage class rules need distinct prefix sets (${ruleLabel(first, rules[first])} has the same)`);
      } else {
        seen.set(key, index);
      }
    }
  }
}

/** The literal text a tag pattern requires at the start of a tag, and whether that is all it requires. */
function prefixForm(pattern: string): { literal: string; prefixOnly: boolean } {
  const star = pattern.indexOf('*');
  if (star < 0) {
    return { literal: pattern, prefixOnly: false };
  }
  return { literal: pattern.slice(0, star), prefixOnly: star === pattern.length - 1 };
}

/** The tag filters of a tagged rule as patterns (a prefix `p` is the pattern `p*`). */
function filtersOf(rule: PolicyRule): string[] {
  const s = rule.selection;
  return s.tagPatternList ?? (s.tagPrefixList ?? []).map((p) => `${p}*`);
}

/**
 * True when every tag matching pattern `narrow` also matches pattern `wide`. Decided exactly for
 * equal patterns, `*`, and prefix-form patterns (`abc*`); other pairs count as not covered.
 */
function patternCovers(wide: string, narrow: string): boolean {
  if (wide === narrow || wide === '*') {
    return true;
  }
  const w = prefixForm(wide);
  if (!w.prefixOnly) {
    return false;
  }
  const n = prefixForm(narrow);
  return n.literal.startsWith(w.literal);
}

/** True when every image the tagged rule `narrow` selects is also selected by the tagged rule `wide`. */
function taggedRuleCovers(wide: PolicyRule, narrow: PolicyRule): boolean {
  const narrowFilters = filtersOf(narrow);
  return filtersOf(wide).every((w) => narrowFilters.some((n) => patternCovers(w, n)));
}

/**
 * Rules that can never act: every image they select is owned by a rule with a higher priority
 * (lower number) of the same storage class, whose selection already covers theirs.
 */
function neverActingRules(raw: unknown[], rules: PolicyRule[]): string[] {
  const warnings: string[] = [];
  const indexed = rules.map((rule, index) => ({ rule, index }));
  const classOf = (rule: PolicyRule) => rule.selection.storageClass ?? 'standard';
  for (const { rule, index } of indexed) {
    const earlier = indexed.filter(({ rule: other }) => classOf(other) === classOf(rule) && other.rulePriority < rule.rulePriority);
    const status = rule.selection.tagStatus;
    let coveredBy: string | undefined;
    if (status === 'tagged') {
      const wide = earlier.find(({ rule: other }) => other.selection.tagStatus === 'tagged' && taggedRuleCovers(other, rule));
      coveredBy = wide && `${ruleLabel(wide.index, raw[wide.index])} already selects every image it selects`;
    } else if (status === 'any') {
      const allTagged = earlier.find(({ rule: other }) => other.selection.tagStatus === 'tagged'
        && filtersOf(other).every((f) => f === '*'));
      const untagged = earlier.find(({ rule: other }) => other.selection.tagStatus === 'untagged');
      coveredBy = allTagged && untagged
        && `${ruleLabel(allTagged.index, raw[allTagged.index])} owns every tagged image and ${ruleLabel(untagged.index, raw[untagged.index])} every untagged one`;
    }
    if (coveredBy) {
      warnings.push(`${ruleLabel(index, raw[index])} can never act: ${coveredBy}, and an image belongs to the first rule that selects it`);
    }
  }
  return warnings;
}
