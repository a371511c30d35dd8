import { promises as fs } from 'fs';
import { isDigest } from '../image-reference';
import { Io, UsageError, parseArgs } from './args';
import { LifecyclePolicy } from '../lifecycle/policy';
import { LifecyclePreviewImage, LifecyclePreviewResult } from '../lifecycle/preview-types';
import { LifecycleActionType, LifecycleStorageClass } from '../lifecycle/rules';

const USAGE = `Usage: cdk-byoc-artifacts lifecycle preview POLICY.json IMAGES.json [--now ISO-8601] [--json]

  POLICY.json  ECR lifecycle policy JSON, or the output of 'aws ecr get-lifecycle-policy'
  IMAGES.json  the output of 'aws ecr describe-images' as is ({"imageDetails": [...]}),
               or a list of images; dates as ISO-8601 text or epoch seconds; an image may
               add "referencedBy" (digests of the indexes listing it) and "subjectDigest"
               (the image a referrer refers to), which the preview then follows as ECR does
  --now        evaluate at this time instead of the current time
  --json       print {"previewResults": [...], "summary": {...}} like
               'aws ecr get-lifecycle-policy-preview' instead of a table
`;

/**
 * `cdk-byoc-artifacts lifecycle preview POLICY.json IMAGES.json [--now ISO] [--json]`: shows what
 * the policy would expire or archive among the images, and by which rule. `argv` holds the words
 * after `lifecycle preview`. Returns 0 on success, 1 when an input is invalid, 2 on a usage error.
 */
export async function lifecyclePreviewCommand(argv: string[], io: Io): Promise<number> {
  let args: PreviewArgs | 'help';
  try {
    args = previewArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (args === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }

  let policy: LifecyclePolicy;
  let images: LifecyclePreviewImage[];
  let details: ImageDetails;
  try {
    policy = LifecyclePolicy.fromPolicyText(policyTextOf(await readText(args.policyFile)));
    const imagesText = await readText(args.imagesFile);
    images = parseImages(imagesText, args.imagesFile);
    details = imageDetailsOf(imagesText);
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  for (const warning of policy.warnings()) {
    io.stderr.write(`warning: ${warning}\n`);
  }
  const results = policy.preview(images, args.now);
  for (const note of notesOn(results, details)) {
    io.stderr.write(`note: ${note}\n`);
  }
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ previewResults: results, summary: summaryOf(results) }, null, 2)}\n`);
  } else {
    io.stdout.write(renderTable(results, images.length, args.now));
  }
  return 0;
}

interface PreviewArgs {
  readonly policyFile: string;
  readonly imagesFile: string;
  readonly now: Date;
  readonly json: boolean;
}

function previewArgs(argv: string[]): PreviewArgs | 'help' {
  const args = parseArgs(argv, { values: ['--now'], flags: ['--json'] });
  if (args === 'help') {
    return 'help';
  }
  let now = new Date();
  for (const value of args.values.get('--now') ?? []) {
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(Date.parse(value))) {
      throw new UsageError(`--now needs an ISO-8601 date or time such as 2026-06-01T12:00:00Z, got ${JSON.stringify(value)}`);
    }
    now = new Date(value);
  }
  if (args.positional.length !== 2) {
    throw new UsageError(`expected POLICY.json and IMAGES.json, got ${args.positional.length} file name(s)`);
  }
  return { policyFile: args.positional[0], imagesFile: args.positional[1], now, json: args.flags.has('--json') };
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The policy text in a file: the policy JSON itself, or `get-lifecycle-policy` output holding it. */
function policyTextOf(text: string): string {
  try {
    const doc = JSON.parse(text);
    if (doc && typeof doc === 'object' && typeof doc.lifecyclePolicyText === 'string') {
      return doc.lifecyclePolicyText;
    }
  } catch {
    // Not JSON: fromPolicyText reports it with the rest.
  }
  return text;
}

/** Images from `describe-images` output (one page or the CLI's merged pages) or a bare list. */
export function parseImages(text: string, file: string): LifecyclePreviewImage[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { imageDetails?: unknown } | null)?.imageDetails;
  if (!Array.isArray(list)) {
    throw new Error(`${file}: expected the output of 'aws ecr describe-images' ({"imageDetails": [...]}) or a list of images`);
  }
  const problems: string[] = [];
  const images: LifecyclePreviewImage[] = [];
  list.forEach((entry: unknown, index: number) => {
    const where = `${file}: image ${index}`;
    if (typeof entry !== 'object' || entry === null) {
      problems.push(`${where}: ${JSON.stringify(entry)} is not an image object`);
      return;
    }
    const raw = entry as Record<string, unknown>;
    const digest = raw.imageDigest;
    if (typeof digest !== 'string' || !isDigest(digest)) {
      problems.push(`${where}: imageDigest ${JSON.stringify(digest)} is not a sha256 digest`);
    }
    const tags = raw.imageTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
      problems.push(`${where}: imageTags ${JSON.stringify(tags)} is not a list of strings`);
    }
    const dates: Record<string, Date | undefined> = {};
    for (const field of ['imagePushedAt', 'lastRecordedPullTime', 'lastArchivedAt', 'lastActivatedAt']) {
      const value = raw[field];
      if (value === undefined || value === null) {
        continue;
      }
      const date = toDate(value);
      if (!date) {
        problems.push(`${where}: ${field} ${JSON.stringify(value)} is not an ISO-8601 time or epoch seconds`);
      }
      dates[field] = date;
    }
    const referencedBy = raw.referencedBy;
    if (referencedBy !== undefined && !(Array.isArray(referencedBy) && referencedBy.every((d) => typeof d === 'string' && isDigest(d)))) {
      problems.push(`${where}: referencedBy ${JSON.stringify(referencedBy)} is not a list of sha256 digests`);
    }
    const subject = raw.subjectDigest;
    if (subject !== undefined && !(typeof subject === 'string' && isDigest(subject))) {
      problems.push(`${where}: subjectDigest ${JSON.stringify(subject)} is not a sha256 digest`);
    }
    if (raw.imagePushedAt === undefined || raw.imagePushedAt === null) {
      problems.push(`${where}: imagePushedAt is missing`);
    }
    const storageClass = storageClassOf(raw);
    if (storageClass === null) {
      problems.push(`${where}: storageClass ${JSON.stringify(raw.storageClass)} / imageStatus ${JSON.stringify(raw.imageStatus)} is not STANDARD/ACTIVE or ARCHIVE/ARCHIVED`);
    }
    if (problems.length > 0) {
      return;
    }
    images.push({
      imageDigest: digest as string,
      imageTags: tags as string[],
      imagePushedAt: dates.imagePushedAt!,
      ...(dates.lastRecordedPullTime ? { lastRecordedPullTime: dates.lastRecordedPullTime } : {}),
      ...(dates.lastArchivedAt ? { lastArchivedAt: dates.lastArchivedAt } : {}),
      ...(dates.lastActivatedAt ? { lastActivatedAt: dates.lastActivatedAt } : {}),
      storageClass: storageClass!,
      ...(referencedBy !== undefined ? { referencedBy: [...referencedBy as string[]] } : {}),
      ...(subject !== undefined ? { subjectDigest: subject as string } : {}),
    });
  });
  if (problems.length > 0) {
    throw new Error(`Invalid images:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return images;
}

/** ISO-8601 text, or epoch seconds (number or numeric text), as the AWS CLI prints them. */
function toDate(value: unknown): Date | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value * 1000;
  } else if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value)) {
    ms = Number(value) * 1000;
  } else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    ms = Date.parse(value);
  } else {
    return undefined;
  }
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/**
 * The storage class from `storageClass` when given, else from DescribeImages' `imageStatus`
 * (ARCHIVED, and ACTIVATING while a restore is under way, are still in the archive). Null when unknown.
 */
function storageClassOf(raw: Record<string, unknown>): LifecycleStorageClass | null {
  const value = raw.storageClass ?? raw.imageStatus;
  if (value === undefined) {
    return LifecycleStorageClass.STANDARD;
  }
  switch (typeof value === 'string' ? value.toUpperCase() : value) {
    case 'STANDARD':
    case 'ACTIVE':
      return LifecycleStorageClass.STANDARD;
    case 'ARCHIVE':
    case 'ARCHIVED':
    case 'ACTIVATING':
      return LifecycleStorageClass.ARCHIVE;
    default:
      return null;
  }
}

function summaryOf(results: LifecyclePreviewResult[]) {
  const transitioning = results.filter((r) => r.action.type === LifecycleActionType.TRANSITION).length;
  return {
    expiringImageTotalCount: results.filter((r) => r.action.type === LifecycleActionType.EXPIRE).length,
    transitioningImageTotalCounts: transitioning > 0 ? [{ targetStorageClass: LifecycleStorageClass.ARCHIVE, imageTotalCount: transitioning }] : [],
  };
}

function renderTable(results: LifecyclePreviewResult[], imageCount: number, now: Date): string {
  const expiring = results.filter((r) => r.action.type === LifecycleActionType.EXPIRE).length;
  const archiving = results.length - expiring;
  const summary = `${imageCount} image(s) evaluated at ${now.toISOString()}: `
    + `${expiring} would be expired, ${archiving} archived, ${imageCount - results.length} kept.\n`;
  if (results.length === 0) {
    return summary;
  }
  const header = ['RULE', 'ACTION', 'DIGEST', 'PUSHED', 'CLASS', 'TAGS'];
  const rows = results.map((r) => [
    String(r.appliedRulePriority),
    r.action.type === LifecycleActionType.EXPIRE ? 'expire' : 'archive',
    r.imageDigest.slice(0, 'sha256:'.length + 12),
    r.imagePushedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    r.storageClass.toLowerCase(),
    r.imageTags.length > 0 ? r.imageTags.join(',') : '<untagged>',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + `\n\n${summary}`;
}

/** What DescribeImages says beyond the preview's input: which images are indexes, which are referrers. */
interface ImageDetails {
  readonly indexes: Set<string>;
  readonly subjects: Map<string, string>;
  /** Images whose references the file gives: the preview already followed them. */
  readonly followed: Set<string>;
}

const INDEX_MEDIA_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

function imageDetailsOf(text: string): ImageDetails {
  const doc = JSON.parse(text);
  const list: Array<Record<string, unknown>> = Array.isArray(doc) ? doc : doc.imageDetails;
  const indexes = new Set<string>();
  const subjects = new Map<string, string>();
  const followed = new Set<string>();
  for (const image of list) {
    const digest = image.imageDigest as string;
    if (image.referencedBy !== undefined || image.subjectDigest !== undefined) {
      followed.add(digest);
    }
    if (typeof image.imageManifestMediaType === 'string' && INDEX_MEDIA_TYPES.includes(image.imageManifestMediaType)) {
      indexes.add(digest);
    }
    if (typeof image.subjectManifestDigest === 'string') {
      subjects.set(digest, image.subjectManifestDigest);
    }
  }
  return { indexes, subjects, followed };
}

/**
 * What ECR does beyond the rules, which `describe-images` output alone cannot settle: it never
 * expires a manifest an index references before the index, and removes referrers (signatures,
 * SBOMs) within 24 hours after their subject.
 */
function notesOn(results: LifecyclePreviewResult[], details: ImageDetails): string[] {
  const notes: string[] = [];
  const keptIndexes = [...details.indexes].filter((digest) => !results.some((r) => r.imageDigest === digest));
  const untagged = results.filter((r) => r.imageTags.length === 0
    && !details.subjects.has(r.imageDigest) && !details.followed.has(r.imageDigest));
  if (keptIndexes.length > 0 && untagged.length > 0) {
    notes.push(`${untagged.length} untagged image(s) listed may be platform manifests of the ${keptIndexes.length} `
      + 'image index(es) kept: ECR does not expire or archive a manifest an index references before the index.');
  }
  const removed = new Set(results.map((r) => r.imageDigest));
  const followers = [...details.subjects]
    .filter(([digest, subject]) => removed.has(subject) && !removed.has(digest) && !details.followed.has(digest));
  if (followers.length > 0) {
    notes.push(`${followers.length} referrer(s) (signatures, SBOMs, ...) of images listed will be expired or archived by ECR `
      + 'within 24 hours after their subject.');
  }
  return notes;
}
