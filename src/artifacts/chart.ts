/**
 * Helm charts as Helm's own OCI artifact, packed without helm: a chart directory (or a packaged
 * `.tgz`) becomes the manifest `helm push` writes (helm's `pkg/registry`): the config
 * `application/vnd.cncf.helm.config.v1+json` (Chart.yaml's metadata as JSON), the chart archive
 * as one `application/vnd.cncf.helm.chart.content.v1.tar+gzip` layer, the optional provenance
 * layer, helm's annotations, tag = version with `+` as `_`. The same input gives the same digest.
 * Chart.yaml itself is read in chart-metadata.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ChartError, ChartMetadata, chartMetadata } from './chart-metadata';
import { HelmIgnore } from './helmignore';
import { ANNOTATION_CREATED, FIXED_CREATED, OciArtifact, artifactOf, descriptor, goJson, sortedMap } from './oci';
import { ArchiveError, TarEntry, gzip, readTarGz, writeTar } from './tar';
import { walkFiles } from './walk';

// Packing fails with the metadata's own error: a caller of this module catches one kind.
export { ChartError } from './chart-metadata';

export const HELM_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
export const HELM_PROV_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.provenance.v1.prov';

/** Helm's limits (`pkg/chart/loader/archive`): a chart file, and a whole chart once uncompressed. */
export const MAX_CHART_FILE_SIZE = 5 * 1024 * 1024;
export const MAX_CHART_SIZE = 100 * 1024 * 1024;
const MAX_CHART_ENTRIES = 10_000;

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
  // Helm's loader reads requirements.yaml when it is packed (see chart-metadata.ts).
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
