/**
 * An image (or any artifact) read from an OCI image layout: the top manifest chosen in
 * `index.json` (by its `org.opencontainers.image.ref.name`, by digest, or as the only one), then
 * every manifest and blob below it, each checked against its digest and size, within caps on the
 * number of manifests, their depth and the bytes read. Single manifests and indexes, OCI and
 * Docker schema 2 media types. Pure: no network, no CDK.
 */
import { ANNOTATION_REF_NAME, OCI_INDEX, OCI_MANIFEST, OciArtifact, OciManifestBlob, sha256 } from './oci';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFESTS = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
const INDEXES = new Set([OCI_INDEX, DOCKER_LIST]);
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** Manifests one image may have (the engine's own cap for a copy). */
const MAX_MANIFESTS = 256;
/** Index levels below the top manifest. */
const MAX_DEPTH = 4;

/** A layout that is not the image it should be. */
export class OciLayoutError extends Error {}

/**
 * A layout's files by their path inside it (`oci-layout`, `index.json`, `blobs/sha256/<hex>`);
 * undefined for a file it does not have. A reader may refuse a file larger than `maxBytes`.
 */
export type LayoutFiles = (name: string, maxBytes: number) => Buffer | undefined;

/** Which image of the layout. */
export interface LayoutImageOptions {
  /** The `org.opencontainers.image.ref.name` of the image in `index.json`. @default - the only image */
  readonly ref?: string;
  /** The digest the top manifest must have. @default - any */
  readonly digest?: string;
  /** The most bytes of all manifests and blobs together. */
  readonly maxBytes: number;
}

interface Descriptor {
  readonly mediaType?: unknown;
  readonly digest?: unknown;
  readonly size?: unknown;
  readonly annotations?: { readonly [key: string]: unknown };
}

/**
 * The image `index.json` names, with every manifest and blob it needs, checked.
 *
 * @throws OciLayoutError naming what is wrong
 */
export function readLayoutImage(files: LayoutFiles, options: LayoutImageOptions): OciArtifact {
  const layout = json(files, 'oci-layout') as { imageLayoutVersion?: unknown };
  if (layout?.imageLayoutVersion !== '1.0.0') {
    throw new OciLayoutError(`oci-layout names imageLayoutVersion ${JSON.stringify(layout?.imageLayoutVersion)}, not "1.0.0"`);
  }
  const index = json(files, 'index.json') as { manifests?: Descriptor[] };
  const listed = Array.isArray(index?.manifests) ? index.manifests : [];
  const top = chooseTop(listed, options);
  const reader = new ImageReader(files, options.maxBytes);
  const manifest = reader.manifest(top, 'the image', 0);
  const ref = top.annotations?.[ANNOTATION_REF_NAME];
  return {
    manifest,
    mediaType: String(top.mediaType),
    digest: String(top.digest),
    blobs: reader.blobs,
    children: reader.children,
    tag: typeof ref === 'string' ? ref : '',
  };
}

function chooseTop(listed: Descriptor[], options: LayoutImageOptions): Descriptor {
  const names = () => listed.map(d => {
    const ref = d?.annotations?.[ANNOTATION_REF_NAME];
    return typeof ref === 'string' ? `${ref} (${String(d?.digest)})` : String(d?.digest);
  }).join(', ') || 'none';
  let found: Descriptor[];
  if (options.digest !== undefined) {
    found = listed.filter(d => d?.digest === options.digest);
    if (found.length === 0) {
      throw new OciLayoutError(`index.json does not name the manifest ${options.digest} (it names ${listed.map(d => String(d?.digest)).join(', ') || 'none'})`);
    }
  } else if (options.ref !== undefined) {
    found = listed.filter(d => d?.annotations?.[ANNOTATION_REF_NAME] === options.ref);
    if (found.length === 0) {
      throw new OciLayoutError(`index.json names no image ${JSON.stringify(options.ref)} (${ANNOTATION_REF_NAME}); it names ${names()}`);
    }
  } else {
    found = listed;
    if (found.length !== 1) {
      throw new OciLayoutError(`index.json names ${found.length} images (${names()}): say which one by its ${ANNOTATION_REF_NAME}`);
    }
  }
  const digests = new Set(found.map(d => d?.digest));
  if (digests.size > 1) {
    throw new OciLayoutError(`index.json names ${JSON.stringify(options.ref)} more than once, for different images (${[...digests].join(', ')})`);
  }
  return found[0];
}

/** Walks the graph below the top manifest, each digest once, children before their parents. */
class ImageReader {
  public readonly blobs = new Map<string, Buffer>();
  public readonly children: OciManifestBlob[] = [];
  private readonly seen = new Set<string>();
  private bytes = 0;

  constructor(private readonly files: LayoutFiles, private readonly maxBytes: number) {}

  public manifest(d: Descriptor, what: string, depth: number): Buffer {
    const mediaType = d?.mediaType;
    if (typeof mediaType !== 'string' || (!MANIFESTS.has(mediaType) && !INDEXES.has(mediaType))) {
      throw new OciLayoutError(`${what} ${String(d?.digest)} is a ${JSON.stringify(mediaType)}, not an OCI or Docker schema 2 manifest or index`);
    }
    if (this.seen.size >= MAX_MANIFESTS) {
      throw new OciLayoutError(`the image has more than ${MAX_MANIFESTS} manifests`);
    }
    this.seen.add(String(d.digest));
    const bytes = this.read(d, what);
    let parsed: { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new OciLayoutError(`${what} ${String(d.digest)} is not JSON`);
    }
    if (INDEXES.has(mediaType)) {
      if (!Array.isArray(parsed?.manifests)) {
        throw new OciLayoutError(`${what} ${String(d.digest)} is an index without manifests`);
      }
      if (depth >= MAX_DEPTH) {
        throw new OciLayoutError(`${what} ${String(d.digest)} nests indexes more than ${MAX_DEPTH} levels deep`);
      }
      parsed.manifests.forEach((child, i) => {
        if (!this.seen.has(String(child?.digest))) {
          const childBytes = this.manifest(child, `manifest ${i} of ${String(d.digest)}`, depth + 1);
          this.children.push({ digest: String(child.digest), mediaType: String(child.mediaType), manifest: childBytes });
        }
      });
    } else {
      if (!parsed?.config || !Array.isArray(parsed.layers)) {
        throw new OciLayoutError(`${what} ${String(d.digest)} has no config or no layers`);
      }
      // A platform's blobs say whose they are; the top manifest's need not.
      const of = depth === 0 ? '' : ` of ${String(d.digest)}`;
      for (const [k, blob] of [parsed.config, ...parsed.layers].entries()) {
        if (!this.blobs.has(String(blob?.digest))) {
          this.blobs.set(String(blob?.digest), this.read(blob, k === 0 ? `the config${of}` : `layer ${k}${of}`));
        }
      }
    }
    return bytes;
  }

  /** A blob's bytes, checked against its descriptor's digest and size, within the byte cap. */
  private read(d: Descriptor | undefined, what: string): Buffer {
    const digest = d?.digest;
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      throw new OciLayoutError(`${what} has the digest ${JSON.stringify(digest)}, not a sha256 digest`);
    }
    if (typeof d?.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
      throw new OciLayoutError(`${what} ${digest} has the size ${JSON.stringify(d?.size)}, not a byte count`);
    }
    if (this.bytes + d.size > this.maxBytes) {
      throw new OciLayoutError(`the image is more than the ${this.maxBytes} bytes allowed (at ${what} ${digest})`);
    }
    const bytes = this.files(`blobs/sha256/${digest.slice('sha256:'.length)}`, d.size);
    if (!bytes) {
      throw new OciLayoutError(`${what} ${digest} is missing from blobs/sha256/`);
    }
    if (d.size !== bytes.length) {
      throw new OciLayoutError(`${what} ${digest} is ${bytes.length} bytes, its descriptor says ${d.size}`);
    }
    const actual = sha256(bytes);
    if (actual !== digest) {
      throw new OciLayoutError(`${what} ${digest} does not match its bytes, which hash to ${actual}`);
    }
    this.bytes += bytes.length;
    return bytes;
  }
}

function json(files: LayoutFiles, name: string): unknown {
  const bytes = files(name, 4 * 1024 * 1024);
  if (!bytes) {
    throw new OciLayoutError(`${name} is missing; an OCI image layout holds oci-layout, index.json and blobs/sha256/`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new OciLayoutError(`${name} is not JSON`);
  }
}
