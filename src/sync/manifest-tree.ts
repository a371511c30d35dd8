/**
 * The manifest tree of a source image: the manifests under its top (an index's children, with the
 * platform filter applied), the blobs they reference, and the order the copy writes them in.
 */
import { Platform, formatPlatform, platformMatches } from '../platform';
import { mapLimit } from './concurrency';
import { CopyError, describeNetworkError } from './errors';
import { readBody } from './http';
import { Descriptor, FOREIGN_LAYER_TYPES, IMAGE_CONFIG_TYPES, ParsedManifest, isIndexType, parseManifest } from './manifest-format';
import { FetchedManifest, RegistryClient, sha256 } from './registry-client';

/** A manifest and its children, as read from the source. */
export interface ManifestNode {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
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

/** Where a tree is read from. */
export interface TreeSource {
  readonly client: RegistryClient;
  readonly repository: string;
  /** Child manifests fetched at once. */
  readonly concurrency: number;
}

/** Reads the tree under `top` from the source, applying the platform filter to a top-level index. */
export async function readManifestTree(source: TreeSource, top: FetchedManifest, platforms: Platform[] | undefined): Promise<ManifestTree> {
  const root = await new TreeReader(source).load(top, platforms, true);
  const manifests = postOrder(root);
  const blobs = collectBlobs(manifests);
  const size = manifests.reduce((n, m) => n + m.bytes.length, 0) + [...blobs.values()].reduce((n, b) => n + b.size, 0);
  return { root, manifests, blobs, size };
}

/** The manifests below the root, by depth, deepest first: manifests at one depth are independent of each other. */
export function levelsBelowRoot(tree: ManifestTree): ManifestNode[][] {
  const depths = new Map<string, number>();
  const visit = (node: ManifestNode, depth: number) => {
    depths.set(node.digest, Math.max(depths.get(node.digest) ?? 0, depth));
    node.children.forEach(c => visit(c, depth + 1));
  };
  visit(tree.root, 0);
  const levels: ManifestNode[][] = [];
  for (let depth = Math.max(...depths.values()); depth >= 1; depth--) {
    levels.push(tree.manifests.filter(m => m !== tree.root && depths.get(m.digest) === depth));
  }
  return levels;
}

class TreeReader {
  private readonly client: RegistryClient;
  private readonly repository: string;
  private readonly concurrency: number;

  constructor(source: TreeSource) {
    this.client = source.client;
    this.repository = source.repository;
    this.concurrency = source.concurrency;
  }

  /** Reads one manifest and, below an index, its children; platforms filter only the top. */
  public async load(fetched: FetchedManifest, platforms: Platform[] | undefined, isTop: boolean): Promise<ManifestNode> {
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
          const available = parsed.manifests.filter(d => d.platform).map(d => formatPlatform(d.platform!)).join(', ') || 'none';
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
      const children = await mapLimit(entries, this.concurrency, async d => {
        const child = await this.client.getManifest(this.repository, d.digest);
        if (!child) {
          throw new CopyError('NOT_FOUND', `${where} lists ${d.digest}, which the source does not have`, { registry: this.client.registry, reference: where, status: 404 });
        }
        if (child.size !== d.size) {
          throw new CopyError('DIGEST_MISMATCH', `${where} lists ${d.digest} with size ${d.size}, but it has ${child.size} bytes`, {
            registry: this.client.registry, reference: where,
          });
        }
        return this.load({ ...child, mediaType: child.mediaType || d.mediaType }, undefined, false);
      });
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
    if (isTop) {
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

/** Every manifest once, children before parents. */
function postOrder(root: ManifestNode): ManifestNode[] {
  const seen = new Set<string>();
  const out: ManifestNode[] = [];
  const visit = (node: ManifestNode) => {
    node.children.forEach(visit);
    if (!seen.has(node.digest)) {
      seen.add(node.digest);
      out.push(node);
    }
  };
  visit(root);
  return out;
}

/** Unique blobs (configs and layers) of all image manifests; foreign layers stay where their URLs point. */
function collectBlobs(manifests: ManifestNode[]): Map<string, Descriptor> {
  const blobs = new Map<string, Descriptor>();
  for (const m of manifests) {
    const all = m.parsed.config ? [m.parsed.config, ...m.parsed.layers] : m.parsed.layers;
    for (const d of all) {
      if (FOREIGN_LAYER_TYPES.has(d.mediaType) && d.urls && d.urls.length > 0) {
        continue;
      }
      if (!blobs.has(d.digest)) {
        blobs.set(d.digest, d);
      }
    }
  }
  return blobs;
}
