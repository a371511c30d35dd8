/**
 * A parsed image reference: `host[:port]/repository[:tag][@digest]`.
 *
 * The registry host is always explicit (no implicit Docker Hub): a release names the exact
 * registry it comes from.
 */
export interface ImageReference {
  /** Registry host with an optional port, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com` or `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `team/app`. */
  readonly repository: string;
  /** Tag, e.g. `v1.2.3`. */
  readonly tag?: string;
  /** Manifest digest, e.g. `sha256:...`. When both are present the digest wins. */
  readonly digest?: string;
}

const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_RE = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::([0-9]{1,5}))?$`);
// distribution's reference grammar: lower-case path components joined by '/', separators '.', '_', '__', '-'+.
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const MAX_REPOSITORY_LENGTH = 255;

/** Matches a sha256 digest in the canonical form `sha256:<64 lower-case hex>`. */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** Matches a valid tag. */
export function isTag(value: string): boolean {
  return TAG_RE.test(value);
}

/**
 * Parses `host[:port]/repository[:tag][@digest]`.
 *
 * @throws Error naming the reference and what is wrong with it.
 */
export function parseImageReference(text: string): ImageReference {
  const fail = (why: string): never => {
    throw new Error(`Invalid image reference ${JSON.stringify(text)}: ${why}`);
  };
  if (typeof text !== 'string' || text.trim() === '') {
    fail('it is empty; expected host[:port]/repository[:tag][@digest]');
  }
  if (text !== text.trim() || /\s/.test(text)) {
    fail('it contains whitespace');
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) {
      fail(`digest ${JSON.stringify(digest)} is not sha256:<64 lower-case hex digits>`);
    }
  }
  const slash = rest.indexOf('/');
  if (slash < 0) {
    fail('it has no registry host; expected host[:port]/repository, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app or docker.io/library/nginx');
  }
  const registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  if (!looksLikeHost(registry)) {
    fail(`${JSON.stringify(registry)} is not a registry host (a host needs a '.', a ':port' or to be 'localhost'); expected host[:port]/repository`);
  }
  const hostMatch = HOST_RE.exec(registry);
  if (!hostMatch) {
    fail(`registry host ${JSON.stringify(registry)} is not a valid host[:port]`);
  }
  const port = hostMatch![1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    fail(`port ${port} is out of range 1-65535`);
  }
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      fail(`tag ${JSON.stringify(tag)} is not allowed: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'`);
    }
  }
  if (path === '') {
    fail('the repository is empty');
  }
  if (path.length > MAX_REPOSITORY_LENGTH) {
    fail(`the repository is longer than ${MAX_REPOSITORY_LENGTH} characters`);
  }
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT_RE.test(component)) {
      fail(`repository ${JSON.stringify(path)} is not allowed: lower-case components of [a-z0-9] separated by '.', '_', '__' or '-', joined by '/'`);
    }
  }
  return { registry: registry.toLowerCase(), repository: path, tag, digest };
}

/** Formats a reference back to `host[:port]/repository[:tag][@digest]`. */
export function formatImageReference(ref: ImageReference): string {
  let text = `${ref.registry}/${ref.repository}`;
  if (ref.tag) {
    text += `:${ref.tag}`;
  }
  if (ref.digest) {
    text += `@${ref.digest}`;
  }
  return text;
}

/**
 * Docker Hub's conventions: `docker.io/nginx` is the repository `library/nginx` (official images
 * live under `library/`). Other registries are returned unchanged.
 */
export function normalizeDockerHub(ref: ImageReference): ImageReference {
  const hub = ref.registry === 'docker.io' || ref.registry === 'index.docker.io' || ref.registry === 'registry-1.docker.io';
  if (!hub || ref.repository.includes('/')) {
    return ref;
  }
  return { ...ref, repository: `library/${ref.repository}` };
}

/** True for 127.0.0.0/8, `localhost` and `[::1]`, with or without a port. */
export function isLoopbackHost(registry: string): boolean {
  const host = hostWithoutPort(registry).toLowerCase();
  if (host === 'localhost' || host === '[::1]' || host === '::1') {
    return true;
  }
  const octets = host.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every(o => /^[0-9]{1,3}$/.test(o) && Number(o) <= 255);
}

/** The host part of `host[:port]` (IPv6 literals keep their brackets). */
export function hostWithoutPort(registry: string): string {
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    return end >= 0 ? registry.slice(0, end + 1) : registry;
  }
  const colon = registry.indexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component.startsWith('[') || component === 'localhost';
}
