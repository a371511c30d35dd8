import { isDigest, isTag } from '../image-reference';

/** The image a resource copied, as its physical id records it. */
export interface CopiedImage {
  readonly repositoryUri: string;
  readonly tag: string;
  readonly digest: string;
}

/** The id of a copied image: `<repositoryUri>:<tag>@<digest>`, stable across re-syncs of the same release. */
export function physicalId(repositoryUri: string, tag: string, digest?: string): string {
  return digest ? `${repositoryUri}:${tag}@${digest}` : `${repositoryUri}:${tag}`;
}

/** Reads back a {@link physicalId}; undefined when the id carries no digest (nothing was copied). */
export function parsePhysicalId(id: string | undefined): CopiedImage | undefined {
  if (!id) return undefined;
  const at = id.lastIndexOf('@');
  if (at < 0) return undefined;
  const digest = id.slice(at + 1);
  const rest = id.slice(0, at);
  const colon = rest.lastIndexOf(':');
  if (colon < 0 || !isDigest(digest)) return undefined;
  const tag = rest.slice(colon + 1);
  const repositoryUri = rest.slice(0, colon);
  if (!isTag(tag) || repositoryUri.indexOf('/') < 0) return undefined;
  return { repositoryUri, tag, digest };
}
