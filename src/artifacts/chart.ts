/**
 * Helm charts as Helm's own OCI artifact, packed without helm: a chart directory (or a packaged
 * `.tgz`) becomes the manifest `helm push` writes (helm's `pkg/registry`): the config
 * `application/vnd.cncf.helm.config.v1+json` (Chart.yaml's metadata as JSON), the chart archive
 * as one `application/vnd.cncf.helm.chart.content.v1.tar+gzip` layer, the optional provenance
 * layer, helm's annotations, tag = version with `+` as `_`. The same input gives the same digest.
 */
import * as fs from 'fs';
import * as path from 'path';
import { goPlainScalar } from './go-yaml';
import { HelmIgnore } from './helmignore';
import { ANNOTATION_CREATED, FIXED_CREATED, OciArtifact, artifactOf, descriptor, goJson, sortedMap } from './oci';
import { ArchiveError, TarEntry, gzip, readTarGz, writeTar } from './tar';
import { walkFiles } from './walk';
import { YamlError, YamlValue, parseYaml, yamlBoolean } from './yaml';

export const HELM_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const HELM_PROV_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.provenance.v1.prov';

/** Helm's limits (`pkg/chart/loader/archive`): a chart file, and a whole chart once uncompressed. */
export const MAX_CHART_FILE_SIZE = 5 * 1024 * 1024;
export const MAX_CHART_SIZE = 100 * 1024 * 1024;
const MAX_CHART_ENTRIES = 10_000;

/** A chart Helm would not load, or a file that is no chart. */
export class ChartError extends Error {}

export interface ChartMaintainer {
  readonly name?: string;
  readonly email?: string;
  readonly url?: string;
}

/** Chart.yaml's metadata, in Helm's field order (`chart.Metadata`). */
export interface ChartMetadata {
  readonly name: string;
  readonly home?: string;
  readonly sources?: string[];
  readonly version: string;
  readonly description?: string;
  readonly keywords?: string[];
  readonly maintainers?: ChartMaintainer[];
  readonly icon?: string;
  readonly apiVersion: string;
  readonly condition?: string;
  readonly tags?: string;
  readonly appVersion?: string;
  readonly deprecated?: boolean;
  readonly annotations?: { readonly [key: string]: string };
  readonly kubeVersion?: string;
  readonly dependencies?: unknown[];
  readonly type?: string;
}

/** A packaged chart: its archive's exact bytes and what Chart.yaml says. */
export interface PackagedChart {
  readonly archive: Buffer;
  readonly metadata: ChartMetadata;
  /** The archive's files, chart-relative (directory sources only). */
  readonly files?: string[];
}

export interface PackChartOptions {
  /** Modification time of every archive entry, seconds since the epoch. Default 0. */
  readonly mtime?: number;
}

/**
 * Packs a chart directory as `helm package` would load it: `.helmignore` honoured with Helm's
 * rules, vendored `charts/` included, symbolic links followed, every entry under `<name>/` with
 * mode 0644, owner 0 and one fixed time; files in walk order (names sorted in each directory).
 *
 * @throws ChartError naming the file and what Helm would say
 */
export function packChartDirectory(dir: string, options: PackChartOptions = {}): PackagedChart {
  const top = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(top);
  } catch {
    throw new ChartError(`${dir}: no such chart directory`);
  }
  if (!stat.isDirectory()) {
    throw new ChartError(`${dir}: not a directory`);
  }
  const chartFile = path.join(top, 'Chart.yaml');
  if (!fs.existsSync(chartFile)) {
    throw new ChartError(`${dir}: Chart.yaml is missing; a chart directory has a Chart.yaml at its top`);
  }
  const ignoreFile = path.join(top, '.helmignore');
  let rules: HelmIgnore;
  try {
    rules = HelmIgnore.parse(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : '');
  } catch (err) {
    throw new ChartError(`${dir}/${(err as Error).message}`);
  }
  if (rules.ignores('Chart.yaml', false)) {
    throw new ChartError(`${dir}/.helmignore leaves out Chart.yaml, without which Helm cannot load the chart`);
  }
  // Helm's loader reads requirements.yaml when it is packed (see chartMetadata).
  const requirementsFile = path.join(top, 'requirements.yaml');
  const requirements = fs.existsSync(requirementsFile) && !rules.ignores('requirements.yaml', false)
    ? { bytes: fs.readFileSync(requirementsFile), what: `${dir}/requirements.yaml` }
    : undefined;
  const metadata = chartMetadata(fs.readFileSync(chartFile), `${dir}/Chart.yaml`, requirements);
  const walked = walkFiles(dir, {
    ignores: (relative, isDirectory) => rules.ignores(relative, isDirectory),
    maxFileSize: MAX_CHART_FILE_SIZE,
    maxTotalSize: MAX_CHART_SIZE,
    hint: 'add it to .helmignore',
    limitOwner: 'Helm\'s',
    error: message => new ChartError(message),
  });
  const files = walked.map(f => f.relative);
  const entries: TarEntry[] = walked.map(f => ({ name: `${metadata.name}/${f.relative}`, data: fs.readFileSync(f.absolute) }));
  return { archive: gzip(writeTar(entries, { mtime: options.mtime })), metadata, files };
}

/**
 * A packaged chart (`.tgz`) as it is: its bytes stay unchanged, its Chart.yaml is read from
 * `<name>/Chart.yaml`.
 *
 * @throws ChartError when it is not a chart archive Helm would load
 */
export function readChartArchive(archive: Buffer, what = 'chart archive'): PackagedChart {
  let entries;
  try {
    entries = readTarGz(archive, { maxBytes: MAX_CHART_SIZE, maxEntries: MAX_CHART_ENTRIES });
  } catch (err) {
    if (err instanceof ArchiveError) {
      throw new ChartError(`${what}: ${err.message}; a chart archive is a .tgz from \`helm package\``);
    }
    throw err;
  }
  const chartFiles = entries.filter(e => e.type === 'file' && /^[^/]+\/Chart\.yaml$/.test(e.name));
  if (chartFiles.length !== 1) {
    throw new ChartError(`${what}: ${chartFiles.length === 0 ? 'no' : 'more than one'} <name>/Chart.yaml at its top; a chart archive holds one chart directory`);
  }
  const top = chartFiles[0].name.slice(0, chartFiles[0].name.indexOf('/'));
  const requirements = entries.find(e => e.type === 'file' && e.name === `${top}/requirements.yaml`);
  const metadata = chartMetadata(chartFiles[0].data, `${what}: ${chartFiles[0].name}`,
    requirements && { bytes: requirements.data, what: `${what}: ${requirements.name}` });
  if (top !== metadata.name) {
    throw new ChartError(`${what}: its files are under ${JSON.stringify(top + '/')} but Chart.yaml names the chart ${JSON.stringify(metadata.name)}; Helm expects them under "${metadata.name}/"`);
  }
  const outside = entries.find(e => e.name !== top && !e.name.startsWith(`${top}/`));
  if (outside) {
    throw new ChartError(`${what}: ${JSON.stringify(outside.name)} is outside ${JSON.stringify(top + '/')}`);
  }
  const unsafe = entries.find(e => e.name.split('/').includes('..') || e.name.startsWith('/'));
  if (unsafe) {
    throw new ChartError(`${what}: ${JSON.stringify(unsafe.name)} is not a relative path inside the chart`);
  }
  return { archive, metadata };
}

export interface ChartArtifactOptions {
  /** A provenance file (`helm package --sign`): pushed as the provenance layer. */
  readonly prov?: Buffer;
  /**
   * The `org.opencontainers.image.created` annotation, RFC 3339. Helm writes the time of the
   * push; a fixed time keeps the digest reproducible.
   * @default FIXED_CREATED
   */
  readonly created?: string;
}

/** The OCI tag Helm uses for a chart version: `+` is not allowed in tags, so it is `_`. */
export function chartTag(version: string): string {
  return version.replace(/\+/g, '_');
}

/**
 * The artifact `helm push` writes for a chart (helm's `Client.Push`): config from the metadata,
 * the chart layer (and the provenance layer), layers in digest order, helm's annotations.
 */
export function chartArtifact(chart: PackagedChart, options: ChartArtifactOptions = {}): OciArtifact {
  const created = normalizeCreated(options.created ?? FIXED_CREATED);
  const config = goJson(chart.metadata);
  const layerBlobs = [chart.archive];
  const layers = [descriptor(HELM_CHART_MEDIA_TYPE, chart.archive)];
  if (options.prov) {
    layerBlobs.push(options.prov);
    layers.push(descriptor(HELM_PROV_MEDIA_TYPE, options.prov));
  }
  layers.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const manifest = goJson({
    schemaVersion: 2,
    config: descriptor(HELM_CONFIG_MEDIA_TYPE, config),
    layers,
    annotations: sortedMap(chartAnnotations(chart.metadata, created)),
  });
  return artifactOf(manifest, [config, ...layerBlobs], chartTag(chart.metadata.version));
}

/** helm's `generateOCIAnnotations`: the chart's own annotations, then title, version, description, url, created, source, authors. */
function chartAnnotations(m: ChartMetadata, created: string): { [key: string]: string } {
  const out: { [key: string]: string } = {};
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined && value.trim() !== '') {
      out[key] = value;
    }
  };
  add('org.opencontainers.image.description', m.description);
  add('org.opencontainers.image.title', m.name);
  add('org.opencontainers.image.version', m.version);
  add('org.opencontainers.image.url', m.home);
  add(ANNOTATION_CREATED, created);
  if (m.sources && m.sources.length > 0) {
    add('org.opencontainers.image.source', m.sources[0]);
  }
  if (m.maintainers && m.maintainers.length > 0) {
    add('org.opencontainers.image.authors', m.maintainers
      .map(x => `${x.name ?? ''}${x.email ? ` (${x.email})` : ''}`)
      .join(', '));
  }
  for (const [key, value] of Object.entries(m.annotations ?? {})) {
    if (key !== 'org.opencontainers.image.version' && key !== 'org.opencontainers.image.title') {
      out[key] = value;
    }
  }
  return out;
}

/**
 * An RFC 3339 time as helm writes `created` (UTC, whole seconds).
 *
 * @throws ChartError when it is not an RFC 3339 time
 */
export function normalizeCreated(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(text.trim());
  const time = m ? Date.parse(`${m[1]}T${m[2]}${m[4].toUpperCase()}`) : NaN;
  if (!m || Number.isNaN(time)) {
    throw new ChartError(`created ${JSON.stringify(text)} is not an RFC 3339 time such as 2026-01-31T12:00:00Z`);
  }
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Masterminds semver's loose version (what Helm's `isValidSemver` takes). */
export const SEMVER = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;

/**
 * Chart.yaml's metadata as Helm's loader reads it: unquoted numbers and booleans in string fields
 * printed back as Go prints them (`version: 1.10` is "1.1", see go-yaml.ts), an empty apiVersion
 * as `v1`, then helm's `Metadata.Validate` (its checks, and its sanitising of spaces and
 * unprintable characters).
 *
 * @throws ChartError naming the file, the field and what Helm allows
 */
export function chartMetadata(bytes: Buffer, what = 'Chart.yaml', requirements?: { bytes: Buffer; what: string }): ChartMetadata {
  const doc = readMapping(bytes, what);
  if (!doc.apiVersion) {
    // Helm 2 charts may lack it: Helm's loader takes them as v1.
    doc.apiVersion = 'v1';
  }
  if (requirements) {
    // Helm's loader reads a (deprecated) requirements.yaml into the same metadata: its
    // `dependencies` (and any other field it names) win.
    Object.assign(doc, readMapping(requirements.bytes, requirements.what));
  }
  const fields = new FieldReader(doc, what);
  const metadata: { [key: string]: unknown } = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== '' && value !== false && !(Array.isArray(value) && value.length === 0)
      && !(typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0)) {
      metadata[key] = value;
    }
  };
  set('name', sanitize(fields.string('name')));
  set('home', sanitize(fields.string('home')));
  set('sources', fields.strings('sources')?.map(sanitize));
  set('version', fields.string('version'));
  set('description', sanitize(fields.string('description')));
  set('keywords', fields.strings('keywords')?.map(sanitize));
  set('maintainers', fields.list('maintainers')?.map((m, i) => {
    const r = new FieldReader(m, `${what}: maintainers[${i}]`, true);
    const out: { [key: string]: string } = {};
    for (const key of ['name', 'email', 'url']) {
      const v = sanitize(r.string(key));
      if (v) {
        out[key] = v;
      }
    }
    return out;
  }));
  set('icon', sanitize(fields.string('icon')));
  set('apiVersion', fields.string('apiVersion'));
  set('condition', sanitize(fields.string('condition')));
  set('tags', sanitize(fields.string('tags')));
  set('appVersion', sanitize(fields.string('appVersion')));
  set('deprecated', fields.boolean('deprecated'));
  const annotations = fields.stringMap('annotations');
  set('annotations', annotations && sortedMap(annotations));
  set('kubeVersion', sanitize(fields.string('kubeVersion')));
  set('dependencies', fields.list('dependencies')?.map((d, i) => dependency(d, `${what}: dependencies[${i}]`)));
  set('type', fields.string('type'));

  const m = metadata as unknown as ChartMetadata;
  const problems: string[] = [];
  if (!m.name) {
    problems.push('name is required');
  } else if (m.name === '.' || m.name === '..' || m.name.includes('/') || m.name.includes('\\')) {
    problems.push(`name ${JSON.stringify(m.name)} is not allowed: a chart name has no "/" and is not "." or ".."`);
  }
  if (!m.version) {
    problems.push('version is required');
  } else if (!SEMVER.test(m.version)) {
    problems.push(`version ${JSON.stringify(m.version)} is not allowed: a semantic version such as 1.2.3 or 1.2.3-rc.1+build.5`);
  }
  if (m.type !== undefined && m.type !== 'application' && m.type !== 'library') {
    problems.push(`type ${JSON.stringify(m.type)} is not allowed: application or library`);
  }
  if (problems.length > 0) {
    throw new ChartError(`${what}: ${problems.join('; ')}`);
  }
  return m;
}

function readMapping(bytes: Buffer, what: string): { [key: string]: YamlValue } {
  let doc: YamlValue;
  try {
    doc = parseYaml(bytes.toString('utf8'), what, { plainScalar: goPlainScalar });
  } catch (err) {
    if (err instanceof YamlError) {
      throw new ChartError(err.message);
    }
    throw err;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ChartError(`${what}: not a mapping of chart fields`);
  }
  return doc;
}

/** A dependency in helm's `chart.Dependency` field order (name and repository always written). */
function dependency(value: YamlValue, what: string): unknown {
  const r = new FieldReader(value, what, true);
  const out: { [key: string]: unknown } = { name: r.string('name') ?? '' };
  const version = r.string('version');
  if (version) {
    out.version = version;
  }
  out.repository = r.string('repository') ?? '';
  const condition = r.string('condition');
  if (condition) {
    out.condition = condition;
  }
  const tags = r.strings('tags');
  if (tags && tags.length > 0) {
    out.tags = tags;
  }
  if (r.boolean('enabled')) {
    out.enabled = true;
  }
  const imports = r.raw('import-values');
  if (Array.isArray(imports) && imports.length > 0) {
    out['import-values'] = imports;
  }
  const alias = r.string('alias');
  if (alias) {
    out.alias = alias;
  }
  return out;
}

/** helm's `sanitizeString`: every space character becomes a space, unprintable characters go. */
function sanitize(value: string | undefined): string | undefined {
  return value?.replace(/\s/gu, ' ').replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu, '');
}

class FieldReader {
  private readonly map: { [key: string]: YamlValue };

  constructor(value: YamlValue, private readonly what: string, item = false) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ChartError(`${what}: ${item ? 'each item' : 'the document'} must be a mapping`);
    }
    this.map = value;
  }

  public raw(key: string): YamlValue | undefined {
    return Object.prototype.hasOwnProperty.call(this.map, key) ? this.map[key] : undefined;
  }

  public string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      return undefined;
    }
    if (typeof v !== 'string') {
      throw new ChartError(`${this.what}: ${key} must be a string, not a ${Array.isArray(v) ? 'list' : 'mapping'}`);
    }
    return v;
  }

  public strings(key: string): string[] | undefined {
    return this.list(key)?.map((v, i) => {
      if (typeof v !== 'string') {
        throw new ChartError(`${this.what}: ${key}[${i}] must be a string`);
      }
      return v;
    });
  }

  public list(key: string): YamlValue[] | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      return undefined;
    }
    if (!Array.isArray(v)) {
      throw new ChartError(`${this.what}: ${key} must be a list`);
    }
    return v;
  }

  public boolean(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      return undefined;
    }
    const b = yamlBoolean(v);
    if (b === undefined) {
      throw new ChartError(`${this.what}: ${key} must be true or false, not ${JSON.stringify(v)}`);
    }
    return b;
  }

  public stringMap(key: string): { [key: string]: string } | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      throw new ChartError(`${this.what}: ${key} must be a mapping of strings`);
    }
    const out: { [key: string]: string } = {};
    for (const [k, x] of Object.entries(v)) {
      if (x !== null && typeof x !== 'string') {
        throw new ChartError(`${this.what}: ${key}.${k} must be a string`);
      }
      out[k] = x ?? '';
    }
    return out;
  }
}
