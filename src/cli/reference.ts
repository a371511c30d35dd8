/**
 * Image references as people type them on a command line: docker's short names and skopeo's
 * `docker://` transport prefix, on top of the engine's `host[:port]/repository[:tag][@digest]`.
 */
import { ImageReference, normalizeDockerHub, parseImageReference } from '../image-reference';

/** Transports other tools accept that this command does not: named, so the refusal can say so. */
const OTHER_TRANSPORTS = ['oci:', 'oci-archive:', 'docker-archive:', 'docker-daemon:', 'dir:', 'containers-storage:', 'ostree:', 'sif:'];

/**
 * Reads a reference the way docker does: `docker://` is dropped; a first component without a `.`
 * or `:` that is not `localhost` is a Docker Hub repository (`nginx` is
 * `docker.io/library/nginx`, `user/app` is `docker.io/user/app`; `docker.io/nginx` is
 * `docker.io/library/nginx` too).
 *
 * @throws Error naming the reference and what is wrong with it
 */
export function parseCliReference(text: string): ImageReference {
  let rest = text;
  if (rest.startsWith('docker://')) {
    rest = rest.slice('docker://'.length);
  } else {
    const transport = OTHER_TRANSPORTS.find(t => rest.startsWith(t));
    if (transport) {
      throw new Error(`${JSON.stringify(text)} names the ${transport.slice(0, -1)} transport; only registries are supported (docker://host/repository:tag or host/repository:tag)`);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  if (!hasRegistry && rest !== '' && !/^[a-z0-9]+:\/\//i.test(rest)) {
    const path = slash < 0 ? `library/${rest}` : rest;
    try {
      return parseImageReference(`docker.io/${path}`);
    } catch (err) {
      throw new Error(`${(err as Error).message} (read as a Docker Hub name from ${JSON.stringify(text)})`);
    }
  }
  return normalizeDockerHub(parseImageReference(rest));
}
