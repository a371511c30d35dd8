/**
 * Chart.yaml as Helm's loader reads it (helm's `chart.Metadata`): Go-YAML typing of unquoted
 * scalars in string fields (see go-yaml.ts), a packed requirements.yaml merged in, helm's
 * `Metadata.Validate`, and the fields in Helm's order, so the metadata written as JSON is the
 * config `helm push` writes (see chart.ts).
 */
import { goPlainScalar } from './go-yaml';
import { sortedMap } from './oci';
import { YamlError, YamlValue, parseYaml, yamlBoolean } from './yaml';

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
