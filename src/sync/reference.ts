import { ImageReference, normalizeDockerHub, parseImageReference } from '../image-reference';
import { CopyError } from './errors';

/**
 * An image reference as the engine takes it: `host[:port]/repository[:tag][@digest]` text, or
 * one already parsed. Either way Docker Hub's conventions apply (`docker.io/nginx` is
 * `docker.io/library/nginx`).
 */
export type ImageReferenceInput = string | ImageReference;

/**
 * The parsed reference, with Docker Hub's conventions applied.
 *
 * @param which names the reference in the message of an invalid one (`source`, `destination`)
 * @throws CopyError INVALID naming what is wrong
 */
export function engineReference(input: ImageReferenceInput, which?: string): ImageReference {
  if (typeof input !== 'string') {
    return normalizeDockerHub(input);
  }
  try {
    return normalizeDockerHub(parseImageReference(input));
  } catch (err) {
    throw new CopyError('INVALID', which ? `${which}: ${(err as Error).message}` : (err as Error).message);
  }
}
