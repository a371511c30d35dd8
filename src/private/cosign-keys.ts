/**
 * The public keys a cosign verification policy trusts: read and checked once, at synth (the
 * ImageSync construct) and at run time (the copy engine), by the same code.
 */
import * as crypto from 'crypto';

/** A public key a policy trusts. */
export interface TrustedKey {
  readonly key: crypto.KeyObject;
  /** `sha256:` and the first 16 hex digits of the SHA-256 of the key's DER (SubjectPublicKeyInfo): how messages name the key. */
  readonly fingerprint: string;
}

/**
 * Reads a PEM public key (`-----BEGIN PUBLIC KEY-----`, as `cosign generate-key-pair` and
 * `aws kms get-public-key` give it) and checks that a cosign signature can be verified with it.
 *
 * @returns the key, or a sentence saying what is wrong with it
 */
export function parseTrustedKey(pem: string): TrustedKey | string {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return 'is not a PEM public key (-----BEGIN PUBLIC KEY-----)';
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve !== 'prime256v1') {
    return `is an EC key on ${details.namedCurve ?? 'an unknown curve'}; cosign key signatures here are ECDSA P-256 (prime256v1)`;
  }
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) < 2048) {
    return `is an RSA key of ${details.modulusLength} bits; at least 2048 are needed`;
  }
  if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
    return `is an ${key.asymmetricKeyType} key; cosign key signatures here are ECDSA P-256 or RSA`;
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return { key, fingerprint: `sha256:${crypto.createHash('sha256').update(der).digest('hex').slice(0, 16)}` };
}
