/**
 * The cryptographic half of Sigstore bundle verification, on `@sigstore/verify`: a bundle counts
 * when its signature verifies, its certificate chains to a Fulcio CA of the trusted root (with an
 * embedded SCT from one of its CT logs) or its public-key hint names a key of the policy, and
 * its transparency log entry (inclusion proof or promise) or timestamp verifies against the same
 * root. What the bundle signs and who signed it are judged by sigstore.ts.
 *
 * Kept apart from the engine so that only the runs that meet a bundle load it: the Lambda
 * bundles it, the CLI ships it as a side bundle (assets/cli/sigstore.js).
 */
import * as crypto from 'crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { PUBLIC_GOOD_TRUSTED_ROOT } from './sigstore-trusted-root';
import type { TrustedKey } from '../private/cosign-keys';

/** Who signed a bundle that verified. */
export interface BundleSigner {
  /** The certificate's subject alternative name (an email, a URI such as a workflow). */
  readonly subject?: string;
  /** The certificate's OIDC issuer (Fulcio's extension). */
  readonly issuer?: string;
  /** The fingerprint of the policy's key a key-signed bundle verified with. */
  readonly key?: string;
}

/** Verifies one parsed bundle; throws an Error saying why it does not verify. */
export interface BundleVerifier {
  verify(bundle: unknown): BundleSigner;
}

/** Builds a verifier for a trusted root (JSON text; the pinned public-good root without) and the policy's keys. */
export type BundleVerifierFactory = (trustedRoot: string | undefined, keys: readonly TrustedKey[]) => BundleVerifier;

/** The hint cosign and sigstore-go give a key-signed bundle: base64 of the SHA-256 of the key's DER. */
export function keyHint(key: crypto.KeyObject): string {
  return crypto.createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
}

export const createBundleVerifier: BundleVerifierFactory = (trustedRoot, keys) => {
  const root = TrustedRoot.fromJSON(trustedRoot === undefined ? PUBLIC_GOOD_TRUSTED_ROOT : JSON.parse(trustedRoot));
  const byHint = new Map(keys.map(k => [keyHint(k.key), k]));
  const trust = toTrustMaterial(root, (hint: string) => {
    const key = byHint.get(hint);
    if (!key) {
      throw new Error(`it is signed with a key (hint ${hint.slice(0, 64)}) that is not among the policy's keys`);
    }
    return { publicKey: key.key, validFor: () => true };
  });
  const verifier = new Verifier(trust);
  return {
    verify(json: unknown): BundleSigner {
      const bundle = bundleFromJSON(json);
      const signer = verifier.verify(toSignedEntity(bundle));
      const material = bundle.verificationMaterial.content;
      if (material.$case === 'publicKey') {
        return { key: byHint.get(material.publicKey.hint)?.fingerprint };
      }
      return { subject: signer.identity?.subjectAlternativeName, issuer: signer.identity?.extensions?.issuer };
    },
  };
};
