import { patternRegExp, PolicyRule } from './policy-json';
import { LifecyclePreviewAction, LifecyclePreviewImage, LifecyclePreviewResult } from './preview-types';
import { LifecycleActionType, LifecycleStorageClass } from './rules';

const DAY_MS = 24 * 60 * 60 * 1000;

function storageClassOf(image: LifecyclePreviewImage): LifecycleStorageClass {
  return image.storageClass ?? LifecycleStorageClass.STANDARD;
}

/**
 * The time ECR orders and ages an active image by: its push, or its last restore from the archive
 * when that is later ("if an image was archived and then restored, last_activated_at is used
 * instead of pushed_at_time").
 */
function activeSince(image: LifecyclePreviewImage): number {
  const pushed = image.imagePushedAt.getTime();
  const activated = image.lastActivatedAt?.getTime();
  return activated !== undefined && activated > pushed ? activated : pushed;
}

/**
 * The time `sinceImagePulled` measures from: the last recorded pull; the last restore when the
 * image was not pulled since; the push when it was never pulled.
 */
function lastUsed(image: LifecyclePreviewImage): number {
  const pulled = image.lastRecordedPullTime?.getTime();
  const activated = image.lastActivatedAt?.getTime();
  if (activated !== undefined && (pulled === undefined || pulled < activated)) {
    return activated;
  }
  return pulled ?? image.imagePushedAt.getTime();
}

/** Equal push times fall back to the digest, so the result never depends on input order. */
function byDigest(a: LifecyclePreviewImage, b: LifecyclePreviewImage): number {
  return a.imageDigest < b.imageDigest ? -1 : a.imageDigest > b.imageDigest ? 1 : 0;
}

/** A rule's selection (storage class and tags) as a predicate, its tag patterns compiled once. */
function selector(rule: PolicyRule): (image: LifecyclePreviewImage) => boolean {
  const ruleClass = rule.selection.storageClass === 'archive' ? LifecycleStorageClass.ARCHIVE : LifecycleStorageClass.STANDARD;
  const inClass = (image: LifecyclePreviewImage) => storageClassOf(image) === ruleClass;
  switch (rule.selection.tagStatus) {
    case 'any':
      return inClass;
    case 'untagged':
      return (image) => inClass(image) && (image.imageTags ?? []).length === 0;
    case 'tagged': {
      // Tag lists are AND: every prefix (or pattern) must match some tag of the image.
      const prefixes = rule.selection.tagPrefixList;
      const tests: Array<(tag: string) => boolean> = prefixes
        ? prefixes.map((prefix) => (tag: string) => tag.startsWith(prefix))
        : (rule.selection.tagPatternList ?? []).map(patternRegExp).map((re) => (tag: string) => re.test(tag));
      return (image) => {
        const tags = image.imageTags ?? [];
        return inClass(image) && tags.length > 0 && tests.every((test) => tags.some(test));
      };
    }
  }
}

/** The images among `selected` that the rule marks, by its count type. */
function marks(rule: PolicyRule, selected: LifecyclePreviewImage[], now: number): Set<string> {
  const n = rule.selection.countNumber;
  const olderThan = (time: number | undefined) => time !== undefined && now - time > n * DAY_MS;
  let marked: LifecyclePreviewImage[];
  switch (rule.selection.countType) {
    case 'imageCountMoreThan':
      marked = selected
        .map((image) => ({ image, since: activeSince(image) }))
        .sort((a, b) => b.since - a.since || byDigest(a.image, b.image))
        .slice(n)
        .map(({ image }) => image);
      break;
    case 'sinceImagePushed':
      marked = selected.filter((image) => olderThan(activeSince(image)));
      break;
    case 'sinceImagePulled':
      marked = selected.filter((image) => olderThan(lastUsed(image)));
      break;
    case 'sinceImageTransitioned':
      marked = selected.filter((image) => olderThan(image.lastArchivedAt?.getTime()));
      break;
  }
  return new Set(marked.map((image) => image.imageDigest));
}

/**
 * What ECR would do with `images` under the validated `rules`, following its documented
 * evaluation: every rule marks over every image its selection matches (images owned by a
 * higher-priority rule included), then each image is acted on only by the first rule (lowest
 * rulePriority) whose selection matches it, and only if that rule marked it.
 */
export function previewRules(rules: PolicyRule[], images: LifecyclePreviewImage[], now: Date): LifecyclePreviewResult[] {
  checkImages(images, now);
  const ordered = [...rules].sort((a, b) => a.rulePriority - b.rulePriority);
  const unique = new Map<string, LifecyclePreviewImage>();
  for (const image of images) {
    if (!unique.has(image.imageDigest)) {
      unique.set(image.imageDigest, image);
    }
  }
  const all = [...unique.values()];
  const selected = ordered.map((rule) => all.filter(selector(rule)));
  const marked = ordered.map((rule, i) => marks(rule, selected[i], now.getTime()));
  // Each image belongs to the first rule (lowest priority number) that selects it.
  const owners = new Map<string, number>();
  for (let i = selected.length - 1; i >= 0; i--) {
    for (const image of selected[i]) {
      owners.set(image.imageDigest, i);
    }
  }

  const acted: Array<{ result: LifecyclePreviewResult; since: number }> = [];
  for (const image of all) {
    const owner = owners.get(image.imageDigest);
    if (owner === undefined || !marked[owner].has(image.imageDigest)) {
      continue;
    }
    const rule = ordered[owner];
    const action: LifecyclePreviewAction = rule.action.type === 'transition'
      ? { type: LifecycleActionType.TRANSITION, targetStorageClass: LifecycleStorageClass.ARCHIVE }
      : { type: LifecycleActionType.EXPIRE };
    acted.push({
      since: activeSince(image),
      result: {
        imageDigest: image.imageDigest,
        imageTags: [...(image.imageTags ?? [])],
        imagePushedAt: image.imagePushedAt,
        action,
        appliedRulePriority: rule.rulePriority,
        storageClass: storageClassOf(image),
      },
    });
  }
  acted.sort((a, b) => a.result.appliedRulePriority - b.result.appliedRulePriority || a.since - b.since
    || (a.result.imageDigest < b.result.imageDigest ? -1 : 1));
  return acted.map(({ result }) => result);
}

function isDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** Throws one Error naming every image whose digest or times cannot be evaluated. */
function checkImages(images: LifecyclePreviewImage[], now: Date): void {
  const problems: string[] = [];
  if (!isDate(now)) {
    problems.push(`now: ${String(now)} is not allowed: a valid Date`);
  }
  if (!Array.isArray(images)) {
    problems.push(`images: ${String(images)} is not allowed: a list of images`);
  } else {
    images.forEach((image, i) => {
      if (typeof image?.imageDigest !== 'string' || image.imageDigest.length === 0) {
        problems.push(`images[${i}].imageDigest: ${JSON.stringify(image?.imageDigest)} is not allowed: the image's digest`);
      }
      if (!isDate(image?.imagePushedAt)) {
        problems.push(`images[${i}].imagePushedAt: ${String(image?.imagePushedAt)} is not allowed: a valid Date`);
      }
      for (const field of ['lastRecordedPullTime', 'lastArchivedAt', 'lastActivatedAt'] as const) {
        const value = image?.[field];
        if (value !== undefined && !isDate(value)) {
          problems.push(`images[${i}].${field}: ${String(value)} is not allowed: a valid Date or undefined`);
        }
      }
      if (image?.imageTags !== undefined && !(Array.isArray(image.imageTags) && image.imageTags.every((t) => typeof t === 'string'))) {
        problems.push(`images[${i}].imageTags: ${JSON.stringify(image.imageTags)} is not allowed: a list of tags`);
      }
    });
  }
  if (problems.length > 0) {
    throw new Error(`Invalid lifecycle preview input:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
