/**
 * Verification before the tag moves: the signatures of the source digest, against a policy of
 * cosign public keys and Sigstore identities; any one signature that satisfies it suffices.
 *
 * A cosign key signature is a manifest (under cosign's `sha256-<hex>.sig` tag, or an OCI 1.1
 * referrer of artifact type `application/vnd.dev.cosign.artifact.sig.v1+json`) whose layers are
 * simple-signing payloads (`application/vnd.dev.cosign.simplesigning.v1+json`), each annotated
 * with `dev.cosignproject.cosign/signature`: base64 of the signature of the payload's bytes. It
 * counts when it verifies with one of the policy's public keys (ECDSA P-256 with SHA-256,
 * cosign's default and an AWS KMS `ECC_NIST_P256` key; or RSA, PKCS #1 v1.5 or PSS with
 * SHA-256, a KMS RSA key) and its payload names the source digest as
 * `critical.image.docker-manifest-digest`, with cosign's payload type.
 *
 * Sigstore bundles (cosign v3's default) are judged by sigstore.ts. Notation signatures (AWS
 * Signer, ECR managed signing) are found and reported, not verified.
 */
import * as crypto from 'crypto';
import { CopyError } from './errors';
import { Descriptor, parseManifest } from './manifest-format';
import { cosignTag, listReferrers } from './referrers';
import { FetchedManifest, RegistryClient } from './registry-client';
import { SIGSTORE_BUNDLE_MEDIA_TYPE, verifyBundles } from './sigstore';
import type { BundleVerifierFactory } from './sigstore-verify';
import { readSmallBlob } from './small-blob';
import { TrustedKey } from '../private/cosign-keys';
import { SigstoreIdentity, describeIdentity } from '../private/sigstore-policy';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const NOTATION_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const SIGSTORE_BUNDLE_ARTIFACT_TYPE = SIGSTORE_BUNDLE_MEDIA_TYPE;
const COSIGN_PAYLOAD_TYPE = 'cosign container image signature';

/** A simple-signing payload is a few hundred bytes: a larger one is not read. */
const MAX_PAYLOAD_SIZE = 64 * 1024;
/** Signature layers examined for one image, at most. */
const MAX_SIGNATURE_LAYERS = 32;

/** What a verification found. */
export interface VerificationOutcome {
  /** A signature satisfied the policy. */
  readonly verified: boolean;
  /** The policy, as messages name it. */
  readonly policy: string;
  /** The signature manifest that verified, and the key or identity it verified with. */
  readonly signature?: { readonly manifest: string; readonly key: string };
  /** cosign signature layers examined. */
  readonly cosignSignatures: number;
  /** Notation signatures present (reported, not verified). */
  readonly notationSignatures: number;
  /** Sigstore bundles present. */
  readonly sigstoreBundles: number;
  /** Why each signature did not count. */
  readonly problems: string[];
}

/** What a signature must satisfy: one of the keys, or one of the identities. */
export interface VerificationPolicy {
  readonly keys: TrustedKey[];
  readonly identities: readonly SigstoreIdentity[];
  /** Trusted root JSON for bundles; undefined: the pinned public-good root. */
  readonly trustedRoot?: string;
  /** Loads the bundle verifier, the first time a bundle is examined. */
  readonly loadBundleVerifier?: () => BundleVerifierFactory;
}

/** How messages name a policy. */
export function describePolicy(policy: VerificationPolicy): string {
  return [
    policy.keys.length > 0 ? `cosign public keys ${policy.keys.map(k => k.fingerprint).join(', ')}` : '',
    policy.identities.length > 0 ? `Sigstore identities ${policy.identities.map(describeIdentity).join('; ')}` : '',
  ].filter(s => s !== '').join(', or ');
}

/** Where signatures are looked for. */
export interface SignatureSource {
  readonly client: RegistryClient;
  readonly repository: string;
  readonly scopes?: readonly string[];
}

/**
 * Looks for signatures of `digest` (cosign's tag and the referrers) and verifies them against
 * `verification`: cosign key signatures first, then Sigstore bundles; the first that satisfies
 * the policy ends the search.
 */
export async function verifySignatures(source: SignatureSource, digest: string, verification: VerificationPolicy): Promise<VerificationOutcome> {
  const { client, repository } = source;
  const { keys } = verification;
  const policy = describePolicy(verification);
  const candidates: { where: string; manifest: FetchedManifest }[] = [];
  const tag = cosignTag(digest, 'sig');
  const tagged = await client.getManifest(repository, tag, source.scopes);
  if (tagged) {
    candidates.push({ where: `${repository}:${tag}`, manifest: tagged });
  }
  const referrers = await listReferrers(client, repository, digest, { scopes: source.scopes });
  const of = (type: string) => referrers.descriptors.filter(d => d.artifactType === type);
  for (const d of keys.length > 0 ? of(COSIGN_SIGNATURE_ARTIFACT_TYPE) : []) {
    const manifest = await client.getManifest(repository, d.digest, source.scopes, d.size);
    if (manifest) {
      candidates.push({ where: `${repository}@${d.digest}`, manifest });
    }
  }
  const problems: string[] = [];
  let examined = 0;
  const outcome = (signature?: { manifest: string; key: string }): VerificationOutcome => ({
    verified: signature !== undefined,
    policy,
    signature,
    cosignSignatures: examined,
    notationSignatures: of(NOTATION_SIGNATURE_ARTIFACT_TYPE).length,
    sigstoreBundles: of(SIGSTORE_BUNDLE_ARTIFACT_TYPE).length,
    problems,
  });
  for (const { where, manifest } of keys.length > 0 ? candidates : []) {
    let layers: Descriptor[];
    try {
      layers = parseManifest(manifest.bytes, manifest.mediaType).layers;
    } catch (err) {
      problems.push(`${where} is not a signature manifest (${(err as Error).message})`);
      continue;
    }
    for (const layer of layers.filter(l => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE)) {
      if (++examined > MAX_SIGNATURE_LAYERS) {
        problems.push(`more than ${MAX_SIGNATURE_LAYERS} signatures: the rest were not examined`);
        return outcome();
      }
      const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
      if (!signature) {
        problems.push(`${where}: a payload without the ${COSIGN_SIGNATURE_ANNOTATION} annotation`);
        continue;
      }
      if (layer.size > MAX_PAYLOAD_SIZE) {
        problems.push(`${where}: a payload of ${layer.size} bytes, more than a simple-signing payload has`);
        continue;
      }
      const payload = await readPayload(source, layer);
      const key = keys.find(k => verifies(payload, signature, k.key));
      if (!key) {
        problems.push(`${where}: a signature that verifies with none of the keys`);
        continue;
      }
      const problem = payloadProblem(payload, digest);
      if (problem) {
        problems.push(`${where}: a signature by ${key.fingerprint} whose payload ${problem}`);
        continue;
      }
      return outcome({ manifest: manifest.digest, key: key.fingerprint });
    }
  }
  if (keys.length > 0 && candidates.length === 0) {
    problems.push(`no cosign signature (neither the ${tag} tag nor a referrer of type ${COSIGN_SIGNATURE_ARTIFACT_TYPE})`);
  }
  if (keys.length === 0 && candidates.length > 0) {
    problems.push(`cosign signatures under ${tag} not examined: the policy holds no keys (keyless signatures are verified as Sigstore bundles)`);
  }
  const bundles = of(SIGSTORE_BUNDLE_ARTIFACT_TYPE);
  if (bundles.length === 0) {
    if (verification.identities.length > 0) {
      problems.push(`no Sigstore bundle (a referrer of type ${SIGSTORE_BUNDLE_ARTIFACT_TYPE})`);
    }
    return outcome();
  }
  const found = await verifyBundles(source, bundles, digest, {
    identities: verification.identities, keys, trustedRoot: verification.trustedRoot, loadVerifier: verification.loadBundleVerifier,
  }, problems);
  return outcome(found ? { manifest: found.manifest, key: found.by } : undefined);
}

/** The error that keeps the tag from moving: the image, the policy and what was found. */
export function unverifiedError(image: string, v: VerificationOutcome, registry: string): CopyError {
  const others = [
    v.notationSignatures > 0 ? `${v.notationSignatures} Notation signature(s) (present, not verified: Notation verification is not supported)` : '',
    v.sigstoreBundles > 0 ? `${v.sigstoreBundles} Sigstore bundle(s)` : '',
  ].filter(s => s !== '');
  return new CopyError('UNVERIFIED', `${image} is not signed as the policy requires (${v.policy}): `
    + `found ${v.cosignSignatures} cosign signature(s)${others.length > 0 ? `, ${others.join(', ')}` : ''}; ${v.problems.join('; ')}. `
    + 'Nothing was tagged. Sign the image as the policy requires (cosign sign, with one of the keys or as one of the identities), or trust the key or identity it is signed with.', {
    registry, reference: image,
  });
}

function verifies(payload: Buffer, signature: string, key: crypto.KeyObject): boolean {
  const bytes = Buffer.from(signature, 'base64');
  // cosign signs with a KMS key's first signing algorithm: for RSA keys PKCS #1 v1.5 or PSS.
  const schemes: crypto.VerifyKeyObjectInput[] = key.asymmetricKeyType === 'rsa'
    ? [{ key }, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO }]
    : [{ key }];
  return schemes.some(scheme => {
    try {
      return crypto.verify('sha256', payload, scheme, bytes);
    } catch {
      return false;
    }
  });
}

/** Why a verified payload does not vouch for `digest`; undefined when it does. */
function payloadProblem(payload: Buffer, digest: string): string | undefined {
  let json: any;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'is not JSON';
  }
  if (json?.critical?.type !== COSIGN_PAYLOAD_TYPE) {
    return `is not of type "${COSIGN_PAYLOAD_TYPE}"`;
  }
  const signed = json?.critical?.image?.['docker-manifest-digest'];
  if (signed !== digest) {
    return `signs ${typeof signed === 'string' ? signed.slice(0, 80) : 'no digest'}, not ${digest}`;
  }
  return undefined;
}

async function readPayload(source: SignatureSource, layer: Descriptor): Promise<Buffer> {
  return readSmallBlob(source, layer, MAX_PAYLOAD_SIZE, 'signature payload');
}
