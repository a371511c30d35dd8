import { isDigest } from '../image-reference';
import { Platform } from '../platform';

/** OCI image manifest. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index. */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** OCI artifact manifest (OCI 1.1 release candidates; some registries still serve it). */
export const OCI_ARTIFACT_MANIFEST = 'application/vnd.oci.artifact.manifest.v1+json';
/** Docker image manifest v2 schema 2. */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list. */
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker schema 1 (signed or not): deprecated, not copied. */
export const DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** Image configs that carry `os`/`architecture`. */
export const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/** Layers that registries do not serve (`urls` point elsewhere): referenced, never copied. */
export const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);
export const IMAGE_TYPES = new Set([OCI_MANIFEST, DOCKER_MANIFEST, OCI_ARTIFACT_MANIFEST]);

/** The Accept header for manifest requests: every kind the engine copies. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, OCI_ARTIFACT_MANIFEST].join(', ');

/** A content descriptor as found in manifests and indexes. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: string[];
  readonly platform?: Platform;
  readonly annotations?: { [key: string]: string };
  readonly artifactType?: string;
}

/** The fields the engine reads from any manifest kind. Everything else is carried as bytes. */
export interface ParsedManifest {
  readonly mediaType: string;
  /** Children of an index. */
  readonly manifests: Descriptor[];
  /** Config (image manifests). */
  readonly config?: Descriptor;
  /** Layers (image manifests) or blobs (artifact manifests). */
  readonly layers: Descriptor[];
  readonly subject?: Descriptor;
}

export function isIndexType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

/**
 * Reads the manifest fields the engine needs, checking their shape. The caller keeps the
 * original bytes: they are what gets copied.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let json: any;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error('the manifest is not valid JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error('the manifest is not a JSON object');
  }
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const header = contentType?.split(';')[0].trim();
  let mediaType = declared ?? (header && header !== 'application/json' && header !== 'text/plain' ? header : undefined);
  if (json.schemaVersion === 1 || mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED) {
    throw new Error('Docker schema 1 manifests are deprecated and not supported; re-push the image with a current client');
  }
  if (!mediaType) {
    // OCI allows omitting mediaType: tell the kinds apart by their fields.
    mediaType = Array.isArray(json.manifests) ? OCI_INDEX : OCI_MANIFEST;
  }
  if (isIndexType(mediaType)) {
    if (!Array.isArray(json.manifests)) {
      throw new Error(`the ${mediaType} has no "manifests" list`);
    }
    return {
      mediaType,
      manifests: json.manifests.map((d: unknown, i: number) => checkDescriptor(d, `manifests[${i}]`)),
      layers: [],
      subject: json.subject === undefined ? undefined : checkDescriptor(json.subject, 'subject'),
    };
  }
  if (mediaType === OCI_ARTIFACT_MANIFEST) {
    const blobs = json.blobs ?? [];
    if (!Array.isArray(blobs)) {
      throw new Error('the artifact manifest\'s "blobs" is not a list');
    }
    return {
      mediaType,
      manifests: [],
      layers: blobs.map((d: unknown, i: number) => checkDescriptor(d, `blobs[${i}]`)),
      subject: json.subject === undefined ? undefined : checkDescriptor(json.subject, 'subject'),
    };
  }
  if (IMAGE_TYPES.has(mediaType)) {
    const layers = json.layers ?? [];
    if (!Array.isArray(layers)) {
      throw new Error('the manifest\'s "layers" is not a list');
    }
    return {
      mediaType,
      manifests: [],
      config: checkDescriptor(json.config, 'config'),
      layers: layers.map((d: unknown, i: number) => checkDescriptor(d, `layers[${i}]`)),
      subject: json.subject === undefined ? undefined : checkDescriptor(json.subject, 'subject'),
    };
  }
  throw new Error(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
}

function checkDescriptor(value: unknown, where: string): Descriptor {
  const d = value as any;
  if (d === null || typeof d !== 'object') {
    throw new Error(`${where} is not a descriptor`);
  }
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) {
    throw new Error(`${where}.digest ${JSON.stringify(d.digest)} is not a sha256 digest (only sha256 is supported)`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new Error(`${where}.size ${JSON.stringify(d.size)} is not a non-negative integer`);
  }
  if (typeof d.mediaType !== 'string') {
    throw new Error(`${where}.mediaType is missing`);
  }
  if (d.platform !== undefined && (typeof d.platform?.os !== 'string' || typeof d.platform?.architecture !== 'string')) {
    throw new Error(`${where}.platform needs "os" and "architecture"`);
  }
  return d as Descriptor;
}
