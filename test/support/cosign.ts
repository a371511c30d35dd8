import * as crypto from 'crypto';
import { BuiltImage, MEDIA_TYPES, sha256 } from './images';

/**
 * cosign's formats, made here without cosign and without the engine: a key pair as
 * `cosign generate-key-pair` makes it (ECDSA P-256, the public key as a PEM SPKI), and the
 * signature manifest `cosign sign --key` pushes, byte for byte in cosign's layout:
 *
 * - the payload is the simple-signing JSON `{"critical":{"identity":{"docker-reference":...},
 *   "image":{"docker-manifest-digest":...},"type":"cosign container image signature"},"optional":null}`;
 * - it is one layer of media type `application/vnd.dev.cosign.simplesigning.v1+json`, annotated
 *   with `dev.cosignproject.cosign/signature`: base64 of the ASN.1 ECDSA signature (SHA-256) of
 *   the payload bytes;
 * - the config is the image config cosign writes for signatures (empty os and architecture, the
 *   payload's digest as its only diff id);
 * - `tag` mode is pushed under `sha256-<hex>.sig`; `referrer` mode (cosign's OCI 1.1 mode) adds
 *   `artifactType: application/vnd.dev.cosign.artifact.sig.v1+json`, an empty config and a
 *   `subject`.
 */

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';

export interface CosignKeyPair {
  readonly publicKeyPem: string;
  readonly privateKey: crypto.KeyObject;
}

/** A fresh ECDSA P-256 key pair, as `cosign generate-key-pair` makes. */
export function cosignKeyPair(): CosignKeyPair {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

/** cosign's simple-signing payload for `dockerReference` at `digest`. */
export function simpleSigningPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(JSON.stringify({
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: 'cosign container image signature',
    },
    optional: null,
  }));
}

export interface SignatureOptions {
  /** The signed digest. */
  readonly digest: string;
  /** `host/repository` the payload names. */
  readonly dockerReference: string;
  readonly key: crypto.KeyObject;
  /** `tag`: cosign's default `sha256-<hex>.sig` manifest; `referrer`: cosign's OCI 1.1 mode, with a subject. */
  readonly mode?: 'tag' | 'referrer';
  /** The subject's media type and size (referrer mode). */
  readonly subject?: { mediaType: string; size: number };
  /** Replaces the payload after signing (a tampered signature: the signature no longer matches). */
  readonly tamperedPayload?: Buffer;
  /** Signs this payload instead of the one for `digest` (a genuine signature of something else). */
  readonly payload?: Buffer;
  /** Signs with these options instead of `key` alone (RSA-PSS, as some KMS keys sign). */
  readonly signWith?: crypto.SignKeyObjectInput;
}

/** A signature manifest in cosign's layout, with its config and payload blobs. */
export function cosignSignature(o: SignatureOptions): BuiltImage {
  const signed = o.payload ?? simpleSigningPayload(o.dockerReference, o.digest);
  const signature = crypto.sign('sha256', signed, o.signWith ?? o.key).toString('base64');
  const payload = o.tamperedPayload ?? signed;
  const blobs = new Map<string, Buffer>([[sha256(payload), payload]]);
  const layer = {
    mediaType: SIMPLE_SIGNING,
    size: payload.length,
    digest: sha256(payload),
    annotations: { [SIGNATURE_ANNOTATION]: signature },
  };
  let manifest: Buffer;
  if ((o.mode ?? 'tag') === 'tag') {
    const config = Buffer.from(JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [sha256(payload)] },
      config: {},
    }));
    blobs.set(sha256(config), config);
    manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, size: config.length, digest: sha256(config) },
      layers: [layer],
    }));
  } else {
    const empty = Buffer.from('{}');
    blobs.set(sha256(empty), empty);
    manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: COSIGN_SIG_ARTIFACT,
      config: { mediaType: MEDIA_TYPES.ociEmpty, size: 2, digest: sha256(empty) },
      layers: [layer],
      subject: { mediaType: o.subject?.mediaType ?? MEDIA_TYPES.ociManifest, size: o.subject?.size ?? 0, digest: o.digest },
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    }));
  }
  return { manifest, mediaType: MEDIA_TYPES.ociManifest, digest: sha256(manifest), blobs, children: [], artifactType: o.mode === 'referrer' ? COSIGN_SIG_ARTIFACT : undefined };
}

/** cosign's signature tag for a digest. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}
