/**
 * Charts from classic Helm repositories: reads `REPO_URL/index.yaml`, downloads the archive of one
 * chart version (relative or absolute URL, bounded sizes), and checks it against the index's
 * sha256 before anything else looks at it. The archive's bytes are kept unchanged.
 */
import { RegistryCredentials } from './auth';
import { CopyError, describeNetworkError } from './errors';
import { BODY_TOO_LARGE, HttpPool, LookupFunction, RequestRegistry, readBody, sameOrigin } from './http';
import { Redactor } from './redact';
import { REQUEST_ATTEMPTS, Retry, isRetryable, isRetryableNetworkError, isRetryableStatus, withRetries } from './retry';
import { ChartError, PackagedChart, readChartArchive } from '../artifacts/chart';
import { HelmIndexEntry, HelmIndexError, findIndexEntry, indexUrl, resolveChartUrl } from '../artifacts/helm-index';
import { sha256 } from '../artifacts/oci';
import { isLoopbackHost } from '../image-reference';

/** Largest `index.yaml` read by default (large public indexes run to tens of MiB). */
export const DEFAULT_MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Largest chart archive downloaded by default. */
export const DEFAULT_MAX_CHART_BYTES = 32 * 1024 * 1024;

export interface FetchHelmChartOptions {
  /** The repository URL, as in `helm repo add NAME URL`. */
  readonly repoUrl: string;
  readonly chart: string;
  /** The exact version, as the index lists it. */
  readonly version: string;
  /** Basic credentials, sent to the repository's own origin only. */
  readonly credentials?: RegistryCredentials;
  /** @default DEFAULT_MAX_INDEX_BYTES */
  readonly maxIndexBytes?: number;
  /** @default DEFAULT_MAX_CHART_BYTES */
  readonly maxChartBytes?: number;
  /** Hosts other than the repository's that may be reached over plain HTTP. @default - loopback hosts only */
  readonly plainHttp?: (host: string) => boolean;
  readonly lookup?: LookupFunction;
  readonly ca?: string[];
  readonly signal?: AbortSignal;
  readonly redactor?: Redactor;
  readonly onRetry?: (message: string) => void;
}

export interface FetchedHelmChart {
  /** The archive as downloaded (checked against the index digest) and its Chart.yaml. */
  readonly chart: PackagedChart;
  readonly entry: HelmIndexEntry;
  /** Where the archive came from. */
  readonly url: string;
}

/**
 * Downloads one chart version from a classic repository and checks it.
 *
 * @throws CopyError NOT_FOUND (no such chart or version), DIGEST_MISMATCH (the archive is not the
 *   one the index names), INVALID (no digest in the index, not a chart, another chart's name or
 *   version), LIMIT (too large), and the network's failures
 */
export async function fetchHelmChart(options: FetchHelmChartOptions): Promise<FetchedHelmChart> {
  let repo: URL;
  try {
    repo = new URL(options.repoUrl);
  } catch {
    throw new CopyError('INVALID', `repository URL ${JSON.stringify(options.repoUrl)} is not a URL; give http(s)://host/path`);
  }
  if (repo.protocol !== 'https:' && repo.protocol !== 'http:') {
    throw new CopyError('INVALID', `repository URL ${JSON.stringify(options.repoUrl)} is not http or https`);
  }
  if (repo.username || repo.password) {
    throw new CopyError('INVALID', 'the repository URL carries credentials; pass them separately so that they are sent to the repository only');
  }
  const redactor = options.redactor ?? new Redactor();
  if (options.credentials) {
    redactor.addCredentials(options.credentials);
  }
  const pool = new HttpPool({ maxSockets: 4, plainHttp: options.plainHttp ?? isLoopbackHost, lookup: options.lookup, ca: options.ca });
  // The repository's own origin is used as given (plain HTTP there is the caller's choice); any
  // other origin passes the engine's origin rule.
  const registry: RequestRegistry = { origin: repo, loopback: isLoopbackHost(repo.host) };
  const get = (url: URL, limit: number, what: string) => fetchBytes(pool, registry, url, limit, what, options, redactor);
  try {
    const index = indexUrl(options.repoUrl);
    const indexBytes = await get(index, options.maxIndexBytes ?? DEFAULT_MAX_INDEX_BYTES, 'index');
    let entry: HelmIndexEntry;
    try {
      entry = findIndexEntry(indexBytes.toString('utf8'), options.chart, options.version, index.toString());
    } catch (err) {
      if (err instanceof HelmIndexError) {
        throw new CopyError(/has no (chart|version)/.test(err.message) ? 'NOT_FOUND' : 'INVALID', err.message);
      }
      throw err;
    }
    if (!entry.digest) {
      throw new CopyError('INVALID', `${index}: ${options.chart} ${options.version} has no digest, so its archive cannot be checked; refused`);
    }
    const url = resolveChartUrl(options.repoUrl, entry.urls[0]);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new CopyError('INVALID', `${index}: ${options.chart} ${options.version} is at ${JSON.stringify(entry.urls[0])}, not an http(s) URL`);
    }
    const archive = await get(url, options.maxChartBytes ?? DEFAULT_MAX_CHART_BYTES, 'chart archive');
    const digest = sha256(archive);
    if (digest !== entry.digest) {
      throw new CopyError('DIGEST_MISMATCH',
        `${url.origin}${url.pathname} hashes to ${digest} but ${index} gives ${entry.digest} for ${options.chart} ${options.version}; nothing was pushed. `
        + 'The archive or the index changed or was tampered with: ask the repository\'s owner, or check the URL');
    }
    let chart: PackagedChart;
    try {
      chart = readChartArchive(archive, `${options.chart}-${options.version}.tgz`);
    } catch (err) {
      if (err instanceof ChartError) {
        throw new CopyError('INVALID', err.message);
      }
      throw err;
    }
    if (chart.metadata.name !== options.chart || chart.metadata.version !== options.version) {
      throw new CopyError('INVALID',
        `${url.origin}${url.pathname} holds chart ${chart.metadata.name} ${chart.metadata.version}, not ${options.chart} ${options.version} as ${index} says; refused`);
    }
    return { chart, entry, url: url.toString() };
  } catch (err) {
    throw redactor.error(err);
  } finally {
    pool.close();
  }
}

async function fetchBytes(
  pool: HttpPool, registry: RequestRegistry, url: URL, limit: number, what: string, options: FetchHelmChartOptions, redactor: Redactor,
): Promise<Buffer> {
  const where = `${url.origin}${url.pathname}`;
  return withRetries({
    attempts: REQUEST_ATTEMPTS,
    signal: options.signal,
    retryable: isRetryable,
    onRetry: n => options.onRetry?.(redactor.text(`${what} ${where}: ${n.reason}; retrying (attempt ${n.attempt} of ${n.attempts})`)),
  }, async ({ last }) => {
    const headers: Record<string, string> = { 'accept': '*/*', 'user-agent': 'cdk-byoc-artifacts' };
    if (options.credentials && sameOrigin(url, registry.origin)) {
      headers.authorization = 'Basic ' + Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64');
    }
    let res;
    try {
      res = await pool.send({ method: 'GET', url, headers, registry, signal: options.signal });
    } catch (err) {
      if (err instanceof CopyError) {
        throw err;
      }
      throw new CopyError('NETWORK', `GET ${where} failed: ${describeNetworkError(err)}`, { cause: err, retryable: isRetryableNetworkError(err) });
    }
    if (res.status !== 200) {
      res.body.resume();
      if (!last && isRetryableStatus(res.status)) {
        return new Retry(`HTTP ${res.status}`, res.headers['retry-after']);
      }
      if (res.status === 401 || res.status === 403) {
        throw new CopyError(res.status === 401 ? 'UNAUTHORIZED' : 'DENIED',
          `GET ${where} answered HTTP ${res.status}; give the repository's credentials (--repo-creds USER:PASS)`, { status: res.status });
      }
      throw new CopyError(res.status === 404 ? 'NOT_FOUND' : 'REGISTRY', `GET ${where} answered HTTP ${res.status}`, { status: res.status });
    }
    const declared = Number(res.headers['content-length'] ?? -1);
    if (declared > limit) {
      res.body.destroy();
      throw new CopyError('LIMIT', `the ${what} at ${where} is ${declared} bytes, more than the ${limit} allowed`);
    }
    try {
      return await readBody(res, limit);
    } catch (err) {
      if ((err as { code?: string }).code === BODY_TOO_LARGE) {
        throw new CopyError('LIMIT', `the ${what} at ${where} is more than the ${limit} bytes allowed`);
      }
      throw new CopyError('NETWORK', `reading ${where} failed: ${describeNetworkError(err)}`, { cause: err, retryable: true });
    }
  });
}
