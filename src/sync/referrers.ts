/**
 * Referrers travel with their image: signatures, SBOMs and attestations that name an image as
 * their `subject` (OCI 1.1), or that cosign hangs off it under `sha256-<hex>.sig|.att|.sbom` tags.
 *
 * Discovery at the source asks the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`)
 * and, where the registry has none (distribution 2.8 answers 404), the referrers tag schema (an
 * index tagged `sha256-<hex>`). cosign's own tags are looked up either way: cosign writes them
 * unless told to use OCI 1.1.
 *
 * At the destination each referrer is written by digest, children first; a destination without
 * the referrers API gets the tag schema index, merged with what it already lists, so that clients
 * find the referrers there; cosign tags are copied as tags. The caller moves the image's own tag
 * after all of this.
 */
import { mapLimit } from './concurrency';
import type { CopyProgressEvent } from './copy';
import { CopyError } from './errors';
import { Descriptor, OCI_INDEX, isIndexType, parseManifest } from './manifest-format';
import { ManifestLimits, ManifestTree, readManifestTree } from './manifest-tree';
import { FetchedManifest, RegistryClient } from './registry-client';

/** cosign's tag suffixes: signatures, attestations, SBOMs. */
export const COSIGN_TAG_SUFFIXES = ['sig', 'att', 'sbom'] as const;

/** Referrers (manifests, cosign tags included) one copy may carry, unless told otherwise. */
export const DEFAULT_MAX_REFERRERS = 64;

/** How deep referrers of referrers are followed (a signature on an SBOM is depth 2). */
const MAX_REFERRER_DEPTH = 3;
/** Subjects whose referrers are looked up at once. */
const DISCOVERY_FAN_OUT = 4;
/** Pages of one referrers list followed. */
const MAX_REFERRER_PAGES = 16;

/** The referrers tag schema's tag for a subject: `sha256-<hex>`. */
export function referrersTag(subject: string): string {
  return subject.replace(':', '-');
}

/** cosign's tag for a subject's signatures (`sig`), attestations (`att`) or SBOM (`sbom`). */
export function cosignTag(subject: string, suffix: typeof COSIGN_TAG_SUFFIXES[number]): string {
  return `${referrersTag(subject)}.${suffix}`;
}

/** What a registry lists as a subject's referrers. */
export interface ReferrerList {
  /** `api`: the OCI 1.1 referrers API answered; `tag-schema`: the registry has no API, the `sha256-<hex>` index was read. */
  readonly via: 'api' | 'tag-schema';
  readonly descriptors: Descriptor[];
  /** The tag schema index as the registry holds it (tag-schema only, when there is one). */
  readonly schemaIndex?: FetchedManifest;
}

/**
 * Lists the referrers of `subject` in a repository: the referrers API (every page, the
 * `artifactType` filter applied here when the registry says it did not), else the tag schema.
 */
export async function listReferrers(
  client: RegistryClient, repository: string, subject: string, options: { artifactType?: string; scopes?: readonly string[]; max?: number } = {},
): Promise<ReferrerList> {
  const max = options.max ?? DEFAULT_MAX_REFERRERS;
  const where = `${client.registry}/${repository}@${subject}`;
  const query = options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : '';
  let target: string | URL = `/v2/${repository}/referrers/${subject}${query}`;
  const descriptors: Descriptor[] = [];
  for (let page = 0; ; page++) {
    const answer = await client.getReferrers(repository, target, options.scopes);
    if (!answer) {
      if (page > 0) {
        throw new CopyError('REGISTRY', `${where}: the referrers API's next page was not found; try again`, { registry: client.registry, retryable: true });
      }
      return listByTagSchema(client, repository, subject, options.artifactType, options.scopes);
    }
    const entries = indexEntries(answer.bytes, `the referrers of ${where}`, client.registry);
    const filtered = options.artifactType && !answer.filtersApplied.includes('artifactType');
    descriptors.push(...(filtered ? entries.filter(d => d.artifactType === options.artifactType) : entries));
    if (descriptors.length > max) {
      throw tooMany(where, max, client.registry);
    }
    if (!answer.next) {
      return { via: 'api', descriptors };
    }
    if (page + 1 >= MAX_REFERRER_PAGES) {
      throw new CopyError('LIMIT', `${where}: the referrers list runs over more than ${MAX_REFERRER_PAGES} pages; refused`, { registry: client.registry });
    }
    target = answer.next;
  }
}

async function listByTagSchema(
  client: RegistryClient, repository: string, subject: string, artifactType: string | undefined, scopes: readonly string[] | undefined,
): Promise<ReferrerList> {
  const index = await client.getManifest(repository, referrersTag(subject), scopes);
  if (!index) {
    return { via: 'tag-schema', descriptors: [] };
  }
  let entries: Descriptor[];
  try {
    entries = indexEntries(index.bytes, `${client.registry}/${repository}:${referrersTag(subject)}`, client.registry);
  } catch {
    // Something else under that tag is not a referrers index: there are no referrers to find.
    return { via: 'tag-schema', descriptors: [] };
  }
  return { via: 'tag-schema', descriptors: artifactType ? entries.filter(d => d.artifactType === artifactType) : entries, schemaIndex: index };
}

function indexEntries(bytes: Buffer, what: string, registry: string): Descriptor[] {
  let parsed;
  try {
    parsed = parseManifest(bytes, OCI_INDEX);
  } catch (err) {
    throw new CopyError('INVALID', `${what}: ${(err as Error).message}`, { registry });
  }
  if (!isIndexType(parsed.mediaType)) {
    throw new CopyError('INVALID', `${what} is not an image index`, { registry });
  }
  return parsed.manifests;
}

function tooMany(where: string, max: number, registry: string): CopyError {
  return new CopyError('LIMIT', `${where} has more than ${max} referrers: the maxReferrers cap refuses them. `
    + 'Raise the cap for an image with this many signatures and attestations; a registry serving them unasked is hostile.', { registry });
}

/** What the copy of an image's referrers did. */
export interface ReferrersResult {
  /** How the source listed them: the referrers API, the tag schema, or both (subjects differ). */
  readonly sourceVia: ('api' | 'tag-schema')[];
  /** How the destination records them: its referrers API, or the tag schema index this copy maintains. */
  readonly destinationVia?: 'api' | 'tag-schema';
  /** Referrer manifests found (by digest, each once). */
  readonly found: number;
  readonly copied: number;
  /** Already at the destination. */
  readonly skipped: number;
  /**
   * Listed by the source but not there (a referrer deleted without updating the tag schema
   * index): left out, and out of the destination's index.
   */
  readonly missing: number;
  /** cosign tags (`sha256-<hex>.sig|.att|.sbom`) written or found in place at the destination. */
  readonly cosignTags: string[];
  /** Artifact types of the referrers found (signatures, SBOMs, attestations), each once. */
  readonly artifactTypes: string[];
  /**
   * With a platform subset (a new index, with a digest of its own): the source index and how many
   * referrers it has, which were not carried. A signature of the whole index does not vouch for a
   * subset of it; the referrers of the copied platform manifests travel.
   */
  readonly indexLeftBehind?: { readonly digest: string; readonly referrers: number };
}

/**
 * How many referrers `subject` has at the source (its referrers list, and cosign's tags), read
 * and counted, not copied.
 */
export async function countReferrers(client: RegistryClient, repository: string, subject: string, max: number): Promise<number> {
  const [list, tags] = await Promise.all([
    listReferrers(client, repository, subject, { max }),
    Promise.all(COSIGN_TAG_SUFFIXES.map(suffix => client.headManifest(repository, cosignTag(subject, suffix)))),
  ]);
  return list.descriptors.length + tags.filter(t => t !== undefined).length;
}

/** What the referrers copy needs from the image copy it is part of. */
export interface ReferrerCopyContext {
  readonly source: RegistryClient;
  readonly sourceRepository: string;
  readonly destination: RegistryClient;
  readonly destinationRepository: string;
  readonly destinationScopes: readonly string[];
  readonly limits: ManifestLimits;
  readonly maxReferrers: number;
  /** Writes a tree's blobs and its manifests below the root, children first (the root is the referrers copy's). */
  writeBelowRoot(tree: ManifestTree): Promise<void>;
  /** Throws when the copy must stop. */
  checkStop(): void;
  emit(event: CopyProgressEvent): void;
}

interface Found {
  readonly descriptor: Descriptor;
  readonly subject: string;
}

interface CosignFound {
  readonly tag: string;
  readonly manifest: FetchedManifest;
}

/**
 * Copies the referrers of `subjects` (the image's manifests that exist at the destination, or
 * will once the copy's tag moves) and of those referrers, each once, bounded by `maxReferrers`.
 */
export async function copyReferrers(ctx: ReferrerCopyContext, subjects: string[]): Promise<ReferrersResult> {
  const src = ctx.source;
  const srcRepo = ctx.sourceRepository;
  const found = new Map<string, Found>();
  const cosign: CosignFound[] = [];
  const sourceVia = new Set<'api' | 'tag-schema'>();
  const schemaIndexes = new Map<string, FetchedManifest>();
  const seen = new Set<string>();
  let round = [...new Set(subjects)];
  for (let depth = 0; depth < MAX_REFERRER_DEPTH && round.length > 0; depth++) {
    const next: string[] = [];
    // The subjects of a round are looked up together (a few small requests each); their answers
    // are merged in order, so the result and the cap do not depend on which answered first.
    const answers = await mapLimit(round, DISCOVERY_FAN_OUT, async subject => {
      ctx.checkStop();
      const [list, tagged] = await Promise.all([
        listReferrers(src, srcRepo, subject, { max: ctx.maxReferrers }),
        depth === 0 ? Promise.all(COSIGN_TAG_SUFFIXES.map(async suffix => {
          const tag = cosignTag(subject, suffix);
          const manifest = await src.getManifest(srcRepo, tag);
          return manifest && { tag, manifest };
        })) : Promise.resolve([]),
      ]);
      return { subject, list, tagged: tagged.filter((c): c is CosignFound => c !== undefined) };
    });
    round.forEach(subject => seen.add(subject));
    for (const { subject, list, tagged } of answers) {
      sourceVia.add(list.via);
      if (list.schemaIndex) {
        schemaIndexes.set(subject, list.schemaIndex);
      }
      for (const d of list.descriptors) {
        if (!found.has(d.digest)) {
          found.set(d.digest, { descriptor: d, subject });
          if (!seen.has(d.digest)) {
            next.push(d.digest);
          }
        }
      }
      cosign.push(...tagged);
      if (found.size + cosign.length > ctx.maxReferrers) {
        throw tooMany(`${src.registry}/${srcRepo}@${subjects[0]}`, ctx.maxReferrers, src.registry);
      }
    }
    round = next;
  }

  let copied = 0;
  let skipped = 0;
  let missing = 0;
  const artifactTypes = new Set<string>();
  for (const [digest, { descriptor }] of [...found]) {
    const outcome = await writeByDigest(ctx, descriptor);
    if (outcome === 'missing') {
      missing++;
      found.delete(digest);
      continue;
    }
    outcome === 'copied' ? copied++ : skipped++;
    if (descriptor.artifactType) {
      artifactTypes.add(descriptor.artifactType);
    }
  }

  let destinationVia: 'api' | 'tag-schema' | undefined;
  if (found.size > 0) {
    const probe = [...found.values()][0].subject;
    // A registry with the referrers API indexes what names a subject as it is pushed; one without needs the tag schema.
    const answer = await ctx.destination.getReferrers(ctx.destinationRepository, `/v2/${ctx.destinationRepository}/referrers/${probe}`, ctx.destinationScopes);
    destinationVia = answer ? 'api' : 'tag-schema';
    if (!answer) {
      const bySubject = new Map<string, Descriptor[]>();
      for (const f of found.values()) {
        bySubject.set(f.subject, [...(bySubject.get(f.subject) ?? []), f.descriptor]);
      }
      for (const [subject, descriptors] of bySubject) {
        await writeTagSchema(ctx, subject, descriptors, schemaIndexes.get(subject));
      }
    }
  }

  const cosignTags: string[] = [];
  for (const c of cosign) {
    ctx.checkStop();
    const at = await ctx.destination.headManifest(ctx.destinationRepository, c.tag, ctx.destinationScopes);
    if (at?.digest === c.manifest.digest) {
      skipped++;
    } else {
      await writeTree(ctx, c.manifest, c.tag);
      copied++;
      ctx.emit({ kind: 'manifest', digest: c.manifest.digest, message: `referrer tag ${c.tag}` });
    }
    cosignTags.push(c.tag);
  }
  return {
    sourceVia: [...sourceVia],
    destinationVia,
    found: found.size + cosign.length + missing,
    copied,
    skipped,
    missing,
    cosignTags,
    artifactTypes: [...artifactTypes],
  };
}

/** Copies one referrer by digest unless the destination has it. */
async function writeByDigest(ctx: ReferrerCopyContext, d: Descriptor): Promise<'copied' | 'skipped' | 'missing'> {
  ctx.checkStop();
  if (await ctx.destination.headManifest(ctx.destinationRepository, d.digest, ctx.destinationScopes)) {
    ctx.emit({ kind: 'manifest', digest: d.digest, message: 'referrer already at the destination' });
    return 'skipped';
  }
  const manifest = await ctx.source.getManifest(ctx.sourceRepository, d.digest, undefined, d.size);
  if (!manifest) {
    // A stale listing must not hold a release back: the referrer is gone at the source too.
    const message = `${ctx.source.registry}/${ctx.sourceRepository} lists the referrer ${d.digest}, which it does not have; left out`;
    ctx.emit({ kind: 'manifest', digest: d.digest, message });
    return 'missing';
  }
  await writeTree(ctx, manifest, d.digest);
  ctx.emit({ kind: 'manifest', digest: d.digest, message: `referrer ${manifest.mediaType}` });
  return 'copied';
}

/** A referrer's blobs and child manifests, then the referrer itself under `reference`. */
async function writeTree(ctx: ReferrerCopyContext, manifest: FetchedManifest, reference: string): Promise<void> {
  const tree = await readManifestTree({
    client: ctx.source, repository: ctx.sourceRepository, concurrency: 4, limits: ctx.limits,
  }, manifest, undefined);
  await ctx.writeBelowRoot(tree);
  ctx.checkStop();
  await ctx.destination.putManifest(ctx.destinationRepository, reference, tree.root.bytes, tree.root.mediaType, ctx.destinationScopes);
}

/**
 * Lists `descriptors` in the destination's `sha256-<hex>` index for `subject`, keeping what it
 * lists already. The source's own index is copied byte for byte when it says exactly that.
 */
async function writeTagSchema(
  ctx: ReferrerCopyContext, subject: string, descriptors: Descriptor[], sourceIndex: FetchedManifest | undefined,
): Promise<void> {
  ctx.checkStop();
  const tag = referrersTag(subject);
  const existing = await ctx.destination.getManifest(ctx.destinationRepository, tag, ctx.destinationScopes);
  let listed: Descriptor[] = [];
  if (existing) {
    try {
      listed = indexEntries(existing.bytes, `${ctx.destination.registry}/${ctx.destinationRepository}:${tag}`, ctx.destination.registry);
    } catch {
      // Not a referrers index: it is replaced by one.
    }
  }
  const have = new Set(listed.map(d => d.digest));
  const missing = descriptors.filter(d => !have.has(d.digest));
  if (existing && missing.length === 0) {
    return;
  }
  let bytes: Buffer;
  if (!existing && sourceIndex && sameDigests(indexEntries(sourceIndex.bytes, tag, ctx.source.registry), descriptors)) {
    bytes = sourceIndex.bytes;
  } else {
    bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...listed, ...missing] }), 'utf8');
  }
  await ctx.destination.putManifest(ctx.destinationRepository, tag, bytes, OCI_INDEX, ctx.destinationScopes);
  ctx.emit({ kind: 'manifest', message: `referrers tag ${tag} lists ${listed.length + missing.length}` });
}

function sameDigests(a: Descriptor[], b: Descriptor[]): boolean {
  const left = new Set(a.map(d => d.digest));
  return left.size === new Set(b.map(d => d.digest)).size && b.every(d => left.has(d.digest));
}
