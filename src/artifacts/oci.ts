/**
 * OCI artifacts built in memory: a manifest's exact bytes and the blobs it names, ready to push
 * or to write as an OCI image layout. Pure: no network, no CDK.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** The empty config of artifacts that have none (OCI image-spec 1.1). */
export const OCI_EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** Seconds since the epoch that every packed time defaults to: the same input, the same bytes. */
export const FIXED_CREATED = '1970-01-01T00:00:00Z';

export interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: { readonly [key: string]: string };
}

/** A manifest below the top one (a platform's manifest of an index), by digest. */
export interface OciManifestBlob {
  readonly digest: string;
  readonly mediaType: string;
  /** The manifest's exact bytes. */
  readonly manifest: Buffer;
}

/** A manifest and everything it names. */
export interface OciArtifact {
  /** The manifest's exact bytes: its digest is the artifact's digest. */
  readonly manifest: Buffer;
  readonly mediaType: string;
  readonly digest: string;
  /** The config and the layers (of every manifest), by digest. */
  readonly blobs: ReadonlyMap<string, Buffer>;
  /**
   * For an index: the manifests below it, children before their parents (the order they are pushed in).
   * @default - none: a single manifest
   */
  readonly children?: readonly OciManifestBlob[];
  /** The tag it is pushed under. */
  readonly tag: string;
}

export function sha256(bytes: Buffer): string {
  return 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');
}

export function descriptor(mediaType: string, bytes: Buffer, annotations?: { [key: string]: string }): OciDescriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length, ...(annotations ? { annotations } : {}) };
}

/**
 * JSON as Go's `encoding/json` writes it (what helm and oras hash): no spaces, `<`, `>`, `&`,
 * U+2028 and U+2029 escaped. Key order is the caller's: build objects in the Go struct's order.
 */
export function goJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));
}

/** A map with its keys sorted, as Go marshals a `map[string]string`. */
export function sortedMap(map: { readonly [key: string]: string }): { [key: string]: string } {
  const out: { [key: string]: string } = {};
  for (const key of Object.keys(map).sort(compareBytes)) {
    out[key] = map[key];
  }
  return out;
}

/** Byte-wise order of UTF-8 strings (Go's string order). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** An artifact from its parts. */
export function artifactOf(manifest: Buffer, blobs: Buffer[], tag: string): OciArtifact {
  return {
    manifest,
    mediaType: OCI_MANIFEST,
    digest: sha256(manifest),
    blobs: new Map(blobs.map(b => [sha256(b), b])),
    tag,
  };
}

/** The tag rule of the distribution spec. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** One file of an OCI image layout: its path inside the layout and its bytes. */
export interface OciLayoutFile {
  readonly name: string;
  readonly data: Buffer;
}

/**
 * The files of the artifact's OCI image layout: `oci-layout`, `index.json` naming it with its
 * tag, then `blobs/sha256/...` (blobs by digest, then the manifests below the top one, the top
 * manifest last). The same artifact gives
 * the same files in the same order.
 */
export function ociLayoutFiles(artifact: OciArtifact): OciLayoutFile[] {
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{
      mediaType: artifact.mediaType,
      digest: artifact.digest,
      size: artifact.manifest.length,
      annotations: { [ANNOTATION_REF_NAME]: artifact.tag },
    }],
  };
  const blob = (digest: string, data: Buffer) => ({ name: `blobs/sha256/${digest.slice('sha256:'.length)}`, data });
  return [
    { name: 'oci-layout', data: Buffer.from(OCI_LAYOUT) },
    { name: 'index.json', data: goJson(index) },
    ...[...artifact.blobs].sort(([a], [b]) => compareBytes(a, b)).map(([digest, data]) => blob(digest, data)),
    ...(artifact.children ?? []).map(child => blob(child.digest, child.manifest)),
    blob(artifact.digest, artifact.manifest),
  ];
}

/** The `oci-layout` file's content. */
export const OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

/**
 * Writes the artifact as an OCI image layout (`oci-layout`, `index.json` naming it with its tag,
 * `blobs/sha256/...`), replacing what the directory held. The same artifact gives the same files.
 */
export function writeOciLayout(artifact: OciArtifact, dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const file of ociLayoutFiles(artifact)) {
    fs.writeFileSync(path.join(dir, ...file.name.split('/')), file.data);
  }
}
