/**
 * The manifest graph of a source image: the manifests under its top (an index's children, with
 * the platform filter applied), the blobs they reference, and the order the copy writes them in.
 *
 * It is read as a graph, not a tree: each digest is fetched once however many index entries name
 * it, and caps on distinct manifests, nesting depth, manifest bytes and blob size bound what a
 * source can make the copy fetch and hold (an index of 400 entries naming one manifest costs two
 * requests, not 401).
 */
import { Platform, formatPlatform, platformMatches } from '../platform';
import { mapLimit } from './concurrency';
import { CopyError, describeNetworkError } from './errors';
import { readBody } from './http';
import { Descriptor, FOREIGN_LAYER_TYPES, IMAGE_CONFIG_TYPES, ParsedManifest, isIndexType, parseManifest } from './manifest-format';
import { FetchedManifest, MAX_MANIFEST_SIZE, RegistryClient, sha256 } from './registry-client';

/** A manifest and its children, as read from the source. A manifest named by several indexes is one node. */
export interface ManifestNode {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
  /** Distinct children (an index listing a digest twice has it once here; its bytes keep both entries). */
  readonly children: ManifestNode[];
  readonly platforms: string[];
}

/** What a copy has to write, read from the source. */
export interface ManifestTree {
  readonly root: ManifestNode;
  /** Every manifest once, children before parents (the root last). */
  readonly manifests: ManifestNode[];
  /** Unique blobs (configs and layers) of all image manifests, by digest. */
  readonly blobs: Map<string, Descriptor>;
  /** Bytes of all manifests and blobs. */
  readonly size: number;
}

/** How much a source image may make the copy fetch and hold. */
export interface ManifestLimits {
  /** Distinct manifests, the top one included. */
  readonly maxManifests: number;
  /** Index levels below the top manifest (1: an index of images). */
  readonly maxManifestDepth: number;
  /** Bytes of all distinct manifests together. */
  readonly maxManifestBytes: number;
  /** The size a blob's descriptor may declare. */
  readonly maxBlobSize: number;
  /** Distinct blobs (configs and layers) of all the image's manifests together. */
  readonly maxBlobs: number;
}

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = {
  maxManifests: 256,
  maxManifestDepth: 4,
  maxManifestBytes: 32 * 1024 * 1024,
  maxBlobSize: 10 * 1024 * 1024 * 1024,
  // A real image stays far below: overlayfs stacks at most 128 layers, so even 30 platforms of
  // the deepest images fit. A source listing more makes the copy do a request round per blob.
  maxBlobs: 4096,
};

/** Where a tree is read from. */
export interface TreeSource {
  readonly client: RegistryClient;
  readonly repository: string;
  /** Child manifests fetched at once. */
  readonly concurrency: number;
  /** @default DEFAULT_MANIFEST_LIMITS */
  readonly limits?: ManifestLimits;
}

/** Reads the graph under `top` from the source, applying the platform filter to a top-level index. */
export async function readManifestTree(source: TreeSource, top: FetchedManifest, platforms: Platform[] | undefined): Promise<ManifestTree> {
  const root = await new TreeReader(source, top).load(top, platforms, 0);
  const manifests = postOrder(root);
  const blobs = collectBlobs(manifests, source.limits ?? DEFAULT_MANIFEST_LIMITS, `${source.client.registry}/${source.repository}@${top.digest}`);
  const size = manifests.reduce((n, m) => n + m.bytes.length, 0) + [...blobs.values()].reduce((n, b) => n + b.size, 0);
  return { root, manifests, blobs, size };
}

/**
 * The manifests below the root in the order they can be written: by height (a manifest's
 * longest path down to an image manifest), lowest first. A child is always lower than its parent,
 * so the manifests of one level are independent of each other.
 */
export function levelsBelowRoot(tree: ManifestTree): ManifestNode[][] {
  const heights = new Map<string, number>();
  // tree.manifests lists children before parents: every child's height is known when its parent comes.
  for (const m of tree.manifests) {
    heights.set(m.digest, m.children.reduce((h, c) => Math.max(h, heights.get(c.digest)! + 1), 0));
  }
  const levels: ManifestNode[][] = [];
  for (const m of tree.manifests) {
    if (m !== tree.root) {
      const h = heights.get(m.digest)!;
      (levels[h] ??= []).push(m);
    }
  }
  return levels.filter(level => level !== undefined);
}

class TreeReader {
  private readonly client: RegistryClient;
  private readonly repository: string;
  private readonly concurrency: number;
  private readonly limits: ManifestLimits;
  /** The image being copied, as messages name it. */
  private readonly image: string;
  /** Every manifest loaded or loading, by digest: each is fetched once. */
  private readonly nodes = new Map<string, Promise<ManifestNode>>();
  /** Every digest named so far, counted against the caps once. */
  private readonly named = new Set<string>();
  /** Bytes of the distinct manifests named so far (their declared sizes), the top one included. */
  private manifestBytes: number;
  /** Once a cap refuses the image, no other fetch starts. */
  private refusal?: CopyError;

  constructor(source: TreeSource, top: FetchedManifest) {
    this.client = source.client;
    this.repository = source.repository;
    this.concurrency = source.concurrency;
    this.limits = source.limits ?? DEFAULT_MANIFEST_LIMITS;
    this.image = `${source.client.registry}/${source.repository}@${top.digest}`;
    this.manifestBytes = top.bytes.length;
    this.checkBytes();
  }

  /** Reads one manifest and, below an index, its children; platforms filter only the top. */
  public async load(fetched: FetchedManifest, platforms: Platform[] | undefined, depth: number): Promise<ManifestNode> {
    const where = `${this.client.registry}/${this.repository}@${fetched.digest}`;
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(fetched.bytes, fetched.mediaType);
    } catch (err) {
      const message = (err as Error).message;
      throw new CopyError(/not supported|unsupported/.test(message) ? 'UNSUPPORTED' : 'INVALID', `${where}: ${message}`, {
        registry: this.client.registry, reference: where,
      });
    }
    if (isIndexType(parsed.mediaType)) {
      let entries = parsed.manifests;
      let bytes = fetched.bytes;
      let digest = fetched.digest;
      if (platforms) {
        entries = selectPlatforms(entries, platforms);
        if (entries.length === 0) {
          const available = [...new Set(parsed.manifests.filter(d => d.platform).map(d => formatPlatform(d.platform!)))].join(', ') || 'none';
          throw new CopyError('NOT_FOUND', `${where} has no manifest for ${platforms.map(formatPlatform).join(', ')}; it has: ${available}`, {
            registry: this.client.registry, reference: where,
          });
        }
        if (entries.length !== parsed.manifests.length) {
          // A subset is a new index, with a new digest (reported as `digest` next to `sourceDigest`).
          const json = JSON.parse(fetched.bytes.toString('utf8'));
          const keep = new Set(entries);
          json.manifests = json.manifests.filter((_: unknown, i: number) => keep.has(parsed.manifests[i]));
          bytes = Buffer.from(JSON.stringify(json), 'utf8');
          digest = sha256(bytes);
          parsed = { ...parsed, manifests: entries };
        }
      }
      if (entries.length > 0 && depth + 1 > this.limits.maxManifestDepth) {
        throw this.limit(`nests indexes deeper than ${this.limits.maxManifestDepth} levels (at ${fetched.digest})`, 'maxManifestDepth');
      }
      const distinct = this.discover(entries, where);
      const children = await mapLimit(distinct, this.concurrency, d => this.child(d, where, depth + 1));
      return {
        digest,
        mediaType: parsed.mediaType,
        bytes,
        parsed,
        children,
        platforms: [...new Set(entries.filter(isPlatformEntry).map(d => formatPlatform(d.platform!)))],
      };
    }
    let imagePlatforms: string[] = [];
    if (depth === 0) {
      // Index children take their platform from the index; a single image from its config.
      const platform = await this.configPlatform(parsed.config);
      imagePlatforms = platform ? [formatPlatform(platform)] : [];
      if (platforms && !(platform && platforms.some(p => platformMatches(p, platform)))) {
        throw new CopyError('NOT_FOUND', `${where} is a single image for ${platform ? formatPlatform(platform) : 'an unknown platform'}, not ${platforms.map(formatPlatform).join(', ')}`, {
          registry: this.client.registry, reference: where,
        });
      }
    }
    return { digest: fetched.digest, mediaType: parsed.mediaType, bytes: fetched.bytes, parsed, children: [], platforms: imagePlatforms };
  }

  /**
   * The distinct entries of an index not seen before counted against the caps, before any is
   * fetched; entries naming one digest with different sizes fail (one of them lies).
   */
  private discover(entries: Descriptor[], where: string): Descriptor[] {
    const distinct = new Map<string, Descriptor>();
    for (const d of entries) {
      const first = distinct.get(d.digest);
      if (first && first.size !== d.size) {
        throw new CopyError('DIGEST_MISMATCH', `${where} lists ${d.digest} twice, with sizes ${first.size} and ${d.size}`, {
          registry: this.client.registry, reference: where,
        });
      }
      distinct.set(d.digest, d);
    }
    // Counted when named, before any is fetched: the caps bite before the requests.
    for (const d of distinct.values()) {
      if (this.named.has(d.digest)) {
        continue;
      }
      if (d.size > MAX_MANIFEST_SIZE) {
        throw this.limit(`lists ${d.digest} with a size of ${d.size} bytes, more than a manifest may have (${MAX_MANIFEST_SIZE})`, 'maxManifestBytes');
      }
      this.named.add(d.digest);
      this.manifestBytes += d.size;
    }
    if (this.named.size + 1 > this.limits.maxManifests) {
      throw this.limit(`has more than ${this.limits.maxManifests} distinct manifests`, 'maxManifests');
    }
    this.checkBytes();
    return [...distinct.values()];
  }

  private child(d: Descriptor, where: string, depth: number): Promise<ManifestNode> {
    let node = this.nodes.get(d.digest);
    if (!node) {
      node = (async () => {
        if (this.refusal) {
          throw this.refusal;
        }
        const child = await this.client.getManifest(this.repository, d.digest, undefined, d.size);
        if (!child) {
          throw new CopyError('NOT_FOUND', `${where} lists ${d.digest}, which the source does not have`, { registry: this.client.registry, reference: where, status: 404 });
        }
        return this.load({ ...child, mediaType: child.mediaType || d.mediaType }, undefined, depth);
      })();
      this.nodes.set(d.digest, node);
      // Another index may name it later; a failure is reported once, by the first.
      node.catch(() => undefined);
    }
    return node.then(n => {
      if (n.bytes.length !== d.size) {
        throw new CopyError('DIGEST_MISMATCH', `${where} lists ${d.digest} with size ${d.size}, but it has ${n.bytes.length} bytes`, {
          registry: this.client.registry, reference: where,
        });
      }
      return n;
    });
  }

  private checkBytes(): void {
    if (this.manifestBytes > this.limits.maxManifestBytes) {
      throw this.limit(`has more than ${this.limits.maxManifestBytes} bytes of manifests`, 'maxManifestBytes');
    }
  }

  private limit(what: string, cap: keyof ManifestLimits): CopyError {
    this.refusal ??= new CopyError('LIMIT', `the image ${this.image} ${what}: the ${cap} cap refuses it. `
      + 'A genuine image this large needs a higher cap; a registry serving it unasked is hostile.', {
      registry: this.client.registry, reference: this.image,
    });
    return this.refusal;
  }

  /** The platform an image config declares (small JSON, read from the source), if it is an image config. */
  private async configPlatform(config: Descriptor | undefined): Promise<Platform | undefined> {
    if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType) || config.size > 1024 * 1024) {
      return undefined;
    }
    const bytes = await this.client.retrying(`config ${config.digest}`, async () => {
      const res = await this.client.getBlob(this.repository, config.digest);
      let body: Buffer;
      try {
        body = await readBody(res, 1024 * 1024);
      } catch (err) {
        throw new CopyError('NETWORK', `reading config ${config.digest} from ${this.client.registry} failed: ${describeNetworkError(err)}`, {
          registry: this.client.registry, retryable: true, cause: err,
        });
      }
      if (sha256(body) !== config.digest) {
        throw new CopyError('DIGEST_MISMATCH', `config ${config.digest} from ${this.client.registry}/${this.repository} does not match its digest`, {
          registry: this.client.registry, retryable: true,
        });
      }
      return body;
    });
    try {
      const json = JSON.parse(bytes.toString('utf8'));
      if (typeof json.os === 'string' && typeof json.architecture === 'string') {
        return { os: json.os, architecture: json.architecture, variant: typeof json.variant === 'string' ? json.variant : undefined };
      }
    } catch {
      // not JSON: no platform
    }
    return undefined;
  }
}

/** Index entries to keep for the wanted platforms; attestations follow the image they describe. */
export function selectPlatforms(entries: Descriptor[], wanted: Platform[]): Descriptor[] {
  const kept = new Set(entries.filter(d => isPlatformEntry(d) && wanted.some(w => platformMatches(w, d.platform!))).map(d => d.digest));
  return entries.filter(d => {
    if (kept.has(d.digest)) {
      return true;
    }
    const describes = d.annotations?.['vnd.docker.reference.digest'];
    return describes !== undefined && d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' && kept.has(describes);
  });
}

function isPlatformEntry(d: Descriptor): boolean {
  return !!d.platform && d.platform.os !== 'unknown' && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest';
}

/** Every manifest once, children before parents: each node is visited once, however many parents name it. */
function postOrder(root: ManifestNode): ManifestNode[] {
  const seen = new Set<string>();
  const out: ManifestNode[] = [];
  const visit = (node: ManifestNode) => {
    if (seen.has(node.digest)) {
      return;
    }
    seen.add(node.digest);
    node.children.forEach(visit);
    out.push(node);
  };
  visit(root);
  return out;
}

/**
 * Unique blobs (configs and layers) of all image manifests; foreign layers stay where their URLs
 * point. A blob declared larger than the cap, or more distinct blobs than the cap, are refused
 * before anything is copied.
 */
function collectBlobs(manifests: ManifestNode[], limits: ManifestLimits, image: string): Map<string, Descriptor> {
  const blobs = new Map<string, Descriptor>();
  for (const m of manifests) {
    const all = m.parsed.config ? [m.parsed.config, ...m.parsed.layers] : m.parsed.layers;
    for (const d of all) {
      if (FOREIGN_LAYER_TYPES.has(d.mediaType) && d.urls && d.urls.length > 0) {
        continue;
      }
      if (d.size > limits.maxBlobSize) {
        throw new CopyError('LIMIT', `the image ${image} has a blob ${d.digest} declared as ${d.size} bytes, more than the maxBlobSize cap `
          + `of ${limits.maxBlobSize} bytes refuses. A genuine layer this large needs a higher cap; a registry serving it unasked is hostile.`, {
          reference: image,
        });
      }
      const first = blobs.get(d.digest);
      if (!first) {
        if (blobs.size >= limits.maxBlobs) {
          throw new CopyError('LIMIT', `the image ${image} has more than ${limits.maxBlobs} distinct blobs: the maxBlobs cap refuses it. `
            + 'A genuine image this large needs a higher cap; a registry serving it unasked is hostile.', { reference: image });
        }
        blobs.set(d.digest, d);
      } else if (first.size !== d.size) {
        throw new CopyError('DIGEST_MISMATCH', `the image ${image} declares blob ${d.digest} with sizes ${first.size} and ${d.size}`, { reference: image });
      }
    }
  }
  return blobs;
}
