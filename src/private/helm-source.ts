/**
 * What a classic Helm repository source may name: the repository URL, the chart and the version.
 * Checked by the construct at synth time and by the sync function again at deploy time (a
 * hand-written template or a resolved token). Pure: no network, no CDK.
 */
import { SEMVER } from '../artifacts/chart-metadata';
import { isLoopbackHost } from '../image-reference';
import { isLocalAddress } from './local-address';

/** Helm's chart name rule (`helm lint`): letters, digits, `.`, `_` and `-`. */
const CHART_NAME = /^[A-Za-z0-9._-]{1,250}$/;
/** Names of the instance metadata service that resolve without being address literals. */
const METADATA_NAMES = new Set(['instance-data', 'instance-data.ec2.internal', 'metadata.google.internal']);

/** What is allowed for a repository URL, for messages. */
export const HELM_REPOSITORY_URL_RULE =
  'an https:// URL of a classic Helm repository (http:// only for a loopback host), without credentials, '
  + 'not a link-local, unspecified or metadata address';

/** Why the URL cannot be a repository's, or undefined when it can. */
export function helmRepositoryUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL';
  }
  const loopback = isLoopbackHost(url.host);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    return url.protocol === 'http:' ? 'plain HTTP is allowed for a loopback host only' : `the scheme ${url.protocol} is not https`;
  }
  if (url.username || url.password) {
    return 'it carries credentials (give them as a Secrets Manager secret)';
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if ((isLocalAddress(host) && !loopback) || METADATA_NAMES.has(host)) {
    return `the host ${url.hostname} is a link-local, unspecified or metadata address`;
  }
  return undefined;
}

/** Why the name cannot be a chart's, or undefined when it can. */
export function chartNameProblem(name: string): string | undefined {
  return CHART_NAME.test(name) && name !== '.' && name !== '..'
    ? undefined
    : 'a chart name of 1-250 letters, digits, ".", "_" and "-" (as helm lint allows), not "." or ".."';
}

/** Why the version cannot be a chart's, or undefined when it can. */
export function chartVersionProblem(version: string): string | undefined {
  return SEMVER.test(version) ? undefined : 'a semantic version as the index lists it, e.g. 1.2.3 or 1.2.3-rc.1+build.5';
}
