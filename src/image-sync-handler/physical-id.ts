import { isDigest, isTag } from '../image-reference';

/** The image a resource copied, as its physical id records it. */
export interface CopiedImage {
  readonly repositoryUri: string;
  readonly tag: string;
  readonly digest: string;
  /**
   * Whether this resource wrote the tag. False when the tag already named the digest before this
   * resource's first sync of it (a removal on Delete then keeps it: it was never this resource's).
   */
  readonly written: boolean;
}

/** Marks the physical id of a tag this resource found already in place. */
const FOUND = '#found';

/**
 * The id of a copied image: `<repositoryUri>:<tag>@<digest>`, stable across re-syncs of the same
 * release, with `#found` when the tag was there before the resource (ids without a digest are
 * pending: nothing copied yet). Ids written before `#found` existed read as written.
 */
export function physicalId(repositoryUri: string, tag: string, digest?: string, written = true): string {
  if (!digest) {
    return `${repositoryUri}:${tag}`;
  }
  return `${repositoryUri}:${tag}@${digest}${written ? '' : FOUND}`;
}

/** Reads back a {@link physicalId}; undefined when the id carries no digest (nothing was copied). */
export function parsePhysicalId(id: string | undefined): CopiedImage | undefined {
  if (!id) return undefined;
  const written = !id.endsWith(FOUND);
  const bare = written ? id : id.slice(0, -FOUND.length);
  const at = bare.lastIndexOf('@');
  if (at < 0) return undefined;
  const digest = bare.slice(at + 1);
  const rest = bare.slice(0, at);
  const colon = rest.lastIndexOf(':');
  if (colon < 0 || !isDigest(digest)) return undefined;
  const tag = rest.slice(colon + 1);
  const repositoryUri = rest.slice(0, colon);
  if (!isTag(tag) || repositoryUri.indexOf('/') < 0) return undefined;
  return { repositoryUri, tag, digest, written };
}
