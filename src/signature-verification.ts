import { parseTrustedKey } from './private/cosign-keys';
import { isToken, ValidationProblems } from './private/validation';

/** Keys one policy may hold: a rotation overlap and a few signers, not a key store. */
const MAX_KEYS = 10;

/**
 * The signatures an `ImageSync` requires before it tags the copy. Create one with a static factory.
 *
 * The copy checks the source digest before it writes anything: when no signature satisfies the
 * policy, nothing is copied, the destination tag is not written and the deployment fails with a
 * reason that names the image, the policy and the signatures it found.
 */
export class SignatureVerification {
  /**
   * cosign key-based signatures: at least one cosign signature of the source digest (cosign's
   * `sha256-<hex>.sig` tag, or a cosign signature referrer) must verify with one of these public
   * keys, and its payload must name the digest.
   *
   * Each key is a PEM public key (`-----BEGIN PUBLIC KEY-----`): ECDSA P-256, as
   * `cosign generate-key-pair` makes and as an AWS KMS `ECC_NIST_P256` key signs (its public key
   * from `cosign public-key --key awskms:///<key-arn>` or `aws kms get-public-key`, given here at
   * synth), or RSA of at least 2048 bits (PKCS #1 v1.5 or PSS, SHA-256). Give two keys while rotating.
   *
   * @param publicKeys 1 to 10 PEM public keys
   */
  public static cosignKeys(publicKeys: string[]): SignatureVerification {
    const p = new ValidationProblems('SignatureVerification.cosignKeys');
    if (isToken(publicKeys)) {
      p.add('publicKeys', '<token>', 'a list of PEM texts known at synth: the policy is checked when the stack is synthesized');
    } else if (publicKeys.length < 1 || publicKeys.length > MAX_KEYS) {
      p.add('publicKeys', `${publicKeys.length} keys`, `1 to ${MAX_KEYS} PEM public keys`);
    } else {
      publicKeys.forEach((pem, i) => {
        if (isToken(pem)) {
          p.add(`publicKeys[${i}]`, '<token>', 'a PEM text known at synth (read the KMS public key once, e.g. with `aws kms get-public-key`, and keep it in the app)');
          return;
        }
        const key = parseTrustedKey(pem);
        if (typeof key === 'string') {
          p.add(`publicKeys[${i}]`, pem.slice(0, 60), `a PEM public key of ECDSA P-256 or RSA (2048 bits or more); this one ${key}`);
        }
      });
    }
    p.throwIfAny();
    return new SignatureVerification(publicKeys.map(pem => pem.trim() + '\n'));
  }

  /** The PEM public keys. @internal */
  public readonly _publicKeys: string[];

  private constructor(publicKeys: string[]) {
    this._publicKeys = publicKeys;
  }

  /**
   * The policy as messages name it: `cosign public keys sha256:<first 16 hex digits of each key's SHA-256>`.
   */
  public get description(): string {
    return `cosign public keys ${this._publicKeys.map(pem => (parseTrustedKey(pem) as { fingerprint: string }).fingerprint).join(', ')}`;
  }
}
