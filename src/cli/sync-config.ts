/**
 * The file `cdk-byoc-artifacts sync` reads: which images or repositories go where, and how each
 * registry is reached. YAML or JSON (JSON is YAML too).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageReference } from '../image-reference';
import { platformProblem } from '../platform';
import { parseCliReference } from './reference';

/** One entry of `images`: a single image, or a repository's tags by list or pattern. */
export interface SyncEntry {
  /** The source: with a tag or digest, one image; without, a repository (`tags` or `tagPattern` then required). */
  readonly source: ImageReference;
  /** The destination repository, or with a tag for a single image. */
  readonly destination: ImageReference;
  readonly tags?: string[];
  readonly tagPattern?: RegExp;
  readonly platforms: string[];
  readonly noClobber: boolean;
}

/** How one registry is reached. */
export interface SyncRegistry {
  /** An environment variable holding `USER:PASS` for it. */
  readonly credentialsEnv?: string;
  /** A directory of CA certificates (relative to the config file); the registry then speaks HTTPS. */
  readonly certDir?: string;
  readonly tlsVerify?: boolean;
}

export interface SyncConfig {
  readonly entries: SyncEntry[];
  readonly registries: Map<string, SyncRegistry>;
  /** Parallel blob copies per image. */
  readonly concurrency?: number;
  /** Images copied at the same time. */
  readonly parallelImages: number;
}

const ENTRY_KEYS = new Set(['source', 'destination', 'tags', 'tagPattern', 'platforms', 'noClobber']);
const REGISTRY_KEYS = new Set(['credentialsEnv', 'certDir', 'tlsVerify']);
const DEFAULT_KEYS = new Set(['platforms', 'noClobber', 'concurrency', 'parallelImages']);
const TOP_KEYS = new Set(['defaults', 'registries', 'images']);

/**
 * Reads and checks a sync config. Every problem is collected and reported at once, each naming
 * where it is (`images[2].tagPattern`), the value and what is allowed.
 *
 * @param parseYaml turns YAML text into data
 * @throws Error listing the problems
 */
export function loadSyncConfig(file: string, parseYaml: (text: string) => unknown): SyncConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  const problems: string[] = [];
  const config = readConfig(data, path.dirname(file), problems);
  if (problems.length > 0) {
    throw new Error(`${file} has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n${problems.map(p => `  - ${p}`).join('\n')}`);
  }
  return config!;
}

function readConfig(data: unknown, base: string, problems: string[]): SyncConfig | undefined {
  if (!isObject(data)) {
    problems.push('the file must hold a mapping with "images" (and optionally "defaults" and "registries")');
    return undefined;
  }
  unknownKeys(data, TOP_KEYS, '', problems);
  const defaults = isObject(data.defaults) ? data.defaults : {};
  if (data.defaults !== undefined && !isObject(data.defaults)) {
    problems.push(`defaults: ${show(data.defaults)} is not a mapping`);
  }
  unknownKeys(defaults, DEFAULT_KEYS, 'defaults.', problems);
  const defaultPlatforms = platforms(defaults.platforms, 'defaults.platforms', problems) ?? [];
  const defaultNoClobber = bool(defaults.noClobber, 'defaults.noClobber', problems) ?? false;
  const concurrency = integer(defaults.concurrency, 'defaults.concurrency', 1, 64, problems);
  const parallelImages = integer(defaults.parallelImages, 'defaults.parallelImages', 1, 16, problems) ?? 2;

  const registries = new Map<string, SyncRegistry>();
  if (data.registries !== undefined) {
    if (!isObject(data.registries)) {
      problems.push(`registries: ${show(data.registries)} is not a mapping of registry hosts`);
    } else {
      for (const [host, value] of Object.entries(data.registries)) {
        const where = `registries.${host}`;
        if (!isObject(value)) {
          problems.push(`${where}: ${show(value)} is not a mapping`);
          continue;
        }
        unknownKeys(value, REGISTRY_KEYS, `${where}.`, problems);
        const credentialsEnv = string(value.credentialsEnv, `${where}.credentialsEnv`, problems);
        const certDir = string(value.certDir, `${where}.certDir`, problems);
        registries.set(host.toLowerCase(), {
          credentialsEnv,
          certDir: certDir === undefined ? undefined : path.resolve(base, certDir),
          tlsVerify: bool(value.tlsVerify, `${where}.tlsVerify`, problems),
        });
      }
    }
  }

  const entries: SyncEntry[] = [];
  if (!Array.isArray(data.images) || data.images.length === 0) {
    problems.push(`images: ${show(data.images)} is not allowed: a list of at least one {source, destination} entry`);
  } else {
    data.images.forEach((value: unknown, i: number) => {
      const entry = readEntry(value, `images[${i}]`, problems);
      if (entry) {
        entries.push({ ...entry, platforms: entry.platforms ?? defaultPlatforms, noClobber: entry.noClobber ?? defaultNoClobber });
      }
    });
  }
  return { entries, registries, concurrency, parallelImages };
}

function readEntry(value: unknown, where: string, problems: string[]): (Omit<SyncEntry, 'platforms' | 'noClobber'> & { platforms?: string[]; noClobber?: boolean }) | undefined {
  if (!isObject(value)) {
    problems.push(`${where}: ${show(value)} is not a mapping with source and destination`);
    return undefined;
  }
  unknownKeys(value, ENTRY_KEYS, `${where}.`, problems);
  const source = reference(value.source, `${where}.source`, problems);
  const destination = reference(value.destination, `${where}.destination`, problems);
  const tags = value.tags === undefined ? undefined : stringList(value.tags, `${where}.tags`, problems);
  let tagPattern: RegExp | undefined;
  if (value.tagPattern !== undefined) {
    const text = string(value.tagPattern, `${where}.tagPattern`, problems);
    if (text !== undefined) {
      try {
        tagPattern = new RegExp(text);
      } catch (err) {
        problems.push(`${where}.tagPattern: ${show(text)} is not a regular expression (${(err as Error).message})`);
      }
    }
  }
  const single = source && (source.tag !== undefined || source.digest !== undefined);
  if (source && destination) {
    if (single && (tags || value.tagPattern !== undefined)) {
      problems.push(`${where}: the source ${show(value.source)} names a tag or digest, so tags and tagPattern are not allowed; give the repository alone to list tags`);
    }
    if (!single && !tags && value.tagPattern === undefined) {
      problems.push(`${where}: the source ${show(value.source)} is a repository: give tags (a list) or tagPattern (a regular expression), or name one image with :tag`);
    }
    if (destination.digest) {
      problems.push(`${where}.destination: ${show(value.destination)} names a digest: the destination keeps the source's digest`);
    }
    if (!single && destination.tag) {
      problems.push(`${where}.destination: ${show(value.destination)} names a tag, but the source is a repository whose tags are copied under their own names`);
    }
  }
  if (!source || !destination) {
    return undefined;
  }
  return {
    source,
    destination,
    tags,
    tagPattern,
    platforms: platforms(value.platforms, `${where}.platforms`, problems),
    noClobber: bool(value.noClobber, `${where}.noClobber`, problems),
  };
}

function reference(value: unknown, where: string, problems: string[]): ImageReference | undefined {
  if (typeof value !== 'string') {
    problems.push(`${where}: ${show(value)} is not allowed: an image reference such as ghcr.io/org/app or ghcr.io/org/app:v1`);
    return undefined;
  }
  try {
    return parseCliReference(value);
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
    return undefined;
  }
}

function platforms(value: unknown, where: string, problems: string[]): string[] | undefined {
  const list = value === undefined ? undefined : stringList(value, where, problems);
  for (const p of list ?? []) {
    if (platformProblem(p)) {
      problems.push(`${where}: ${show(p)} is not os/arch[/variant], e.g. linux/amd64`);
    }
  }
  return list;
}

function stringList(value: unknown, where: string, problems: string[]): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || !value.every(v => typeof v === 'string' || typeof v === 'number')) {
    problems.push(`${where}: ${show(value)} is not allowed: a list of at least one string`);
    return undefined;
  }
  // YAML reads `1.0` as a number: a tag is text.
  return value.map(String);
}

function string(value: unknown, where: string, problems: string[]): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string' || value === '') {
    problems.push(`${where}: ${show(value)} is not allowed: a non-empty string`);
    return undefined;
  }
  return value;
}

function bool(value: unknown, where: string, problems: string[]): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') {
    return value;
  }
  problems.push(`${where}: ${show(value)} is not allowed: true or false`);
  return undefined;
}

function integer(value: unknown, where: string, min: number, max: number, problems: string[]): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    problems.push(`${where}: ${show(value)} is not allowed: an integer from ${min} to ${max}`);
    return undefined;
  }
  return value;
}

function unknownKeys(value: { [key: string]: unknown }, allowed: Set<string>, prefix: string, problems: string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      problems.push(`${prefix}${key}: unknown key; allowed: ${[...allowed].join(', ')}`);
    }
  }
}

function isObject(value: unknown): value is { [key: string]: any } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
