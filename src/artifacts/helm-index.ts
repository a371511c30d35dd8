/**
 * A classic Helm repository's `index.yaml` (helm's `repo.IndexFile`): which archive holds a
 * chart version, its sha256, and when it was packaged. Pure: reading, no fetching.
 */
import { YamlError, YamlValue, parseYaml } from './yaml';

/** One chart version of an index. */
export interface HelmIndexEntry {
  readonly name: string;
  readonly version: string;
  /** Where the archive is: absolute, or relative to the repository URL. */
  readonly urls: string[];
  /** The archive's sha256 as `sha256:<hex>`, when the index gives one. */
  readonly digest?: string;
  /** When the chart was packaged, as the index writes it. */
  readonly created?: string;
}

/** An index that cannot be read, or that lacks what was asked. */
export class HelmIndexError extends Error {}

/**
 * The entry of one chart version.
 *
 * @throws HelmIndexError when the index is not a Helm index, or lacks the chart or the version
 *   (naming the versions it has)
 */
export function findIndexEntry(indexText: string, chart: string, version: string, what = 'index.yaml'): HelmIndexEntry {
  let doc: YamlValue;
  try {
    doc = parseYaml(indexText, what);
  } catch (err) {
    if (err instanceof YamlError) {
      throw new HelmIndexError(err.message);
    }
    throw err;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new HelmIndexError(`${what}: not a Helm repository index (expected a mapping with apiVersion and entries)`);
  }
  const entries = doc.entries;
  if (entries === null || entries === undefined || typeof entries !== 'object' || Array.isArray(entries)) {
    throw new HelmIndexError(`${what}: not a Helm repository index (no "entries" mapping)`);
  }
  const versions = Object.prototype.hasOwnProperty.call(entries, chart) ? entries[chart] : undefined;
  if (!Array.isArray(versions)) {
    const names = Object.keys(entries);
    throw new HelmIndexError(`${what} has no chart ${JSON.stringify(chart)}; it has ${names.length} chart(s)${names.length > 0 ? `: ${preview(names)}` : ''}`);
  }
  const found = versions.find(v => v !== null && typeof v === 'object' && !Array.isArray(v) && v.version === version);
  if (!found || typeof found !== 'object' || Array.isArray(found)) {
    const known = versions
      .map(v => (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.version === 'string' ? v.version : undefined))
      .filter((v): v is string => v !== undefined);
    throw new HelmIndexError(`${what}: chart ${JSON.stringify(chart)} has no version ${JSON.stringify(version)}; it has ${preview(known)}`);
  }
  const urls = Array.isArray(found.urls) ? found.urls.filter((u): u is string => typeof u === 'string' && u !== '') : [];
  if (urls.length === 0) {
    throw new HelmIndexError(`${what}: ${chart} ${version} has no urls`);
  }
  const digest = typeof found.digest === 'string' && found.digest !== '' ? normalizeDigest(found.digest, `${what}: ${chart} ${version}`) : undefined;
  return {
    name: typeof found.name === 'string' ? found.name : chart,
    version,
    urls,
    digest,
    created: typeof found.created === 'string' && found.created !== '' ? found.created : undefined,
  };
}

/**
 * A URL of the index, resolved as Helm resolves it: relative to the repository URL taken as a
 * directory.
 */
export function resolveChartUrl(repoUrl: string, ref: string): URL {
  const base = new URL(repoUrl);
  if (!base.pathname.endsWith('/')) {
    base.pathname += '/';
  }
  return new URL(ref, base);
}

/** The index's URL: `index.yaml` under the repository URL. */
export function indexUrl(repoUrl: string): URL {
  return resolveChartUrl(repoUrl, 'index.yaml');
}

function normalizeDigest(text: string, what: string): string {
  const hex = text.startsWith('sha256:') ? text.slice(7) : text;
  if (!/^[a-fA-F0-9]{64}$/.test(hex)) {
    throw new HelmIndexError(`${what}: digest ${JSON.stringify(text)} is not a sha256 (64 hex digits)`);
  }
  return `sha256:${hex.toLowerCase()}`;
}

function preview(list: string[]): string {
  const shown = list.slice(0, 10).map(v => JSON.stringify(v)).join(', ');
  return list.length > 10 ? `${shown} and ${list.length - 10} more` : shown || 'none';
}
