import { parseTrustedKey } from './private/cosign-keys';
import { SigstoreIdentity, describeIdentity, identityProblem, trustedRootProblem } from './private/sigstore-policy';
import { isToken, ValidationProblems } from './private/validation';

/** Keys one policy may hold: a rotation overlap and a few signers, not a key store. */
const MAX_KEYS = 10;
/** Identities one policy may hold: a few release workflows, not a directory. */
const MAX_IDENTITIES = 10;

/**
 * A signer a Sigstore policy trusts: a certificate Fulcio issued for an OIDC identity, as cosign's
 * `--certificate-oidc-issuer` and `--certificate-identity` (or `--certificate-identity-regexp`)
 * name it. Give exactly one of `subject` and `subjectPattern`.
 */
export interface SigstoreIdentityOptions {
  /**
   * The OIDC issuer, compared exactly: an https URL, e.g.
   * `https://token.actions.githubusercontent.com` (GitHub Actions) or `https://accounts.google.com`.
   */
  readonly issuer: string;
  /**
   * The certificate's subject, compared exactly: an email, or a URI such as
   * `https://github.com/<org>/<repo>/.github/workflows/release.yml@refs/heads/main`.
   * @default - `subjectPattern` must be given
   */
  readonly subject?: string;
  /**
   * A JavaScript regular expression the whole subject must match (it is anchored at both ends,
   * unlike cosign's `--certificate-identity-regexp`), e.g.
   * `https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*`.
   * @default - `subject` must be given
   */
  readonly subjectPattern?: string;
}

/** What `SignatureVerification.sigstore` trusts. */
export interface SigstoreVerificationOptions {
  /** The signers whose Sigstore bundles count: 1 to 10 identities, any one suffices. */
  readonly identities: SigstoreIdentityOptions[];
  /**
   * A Sigstore trusted root (`trusted_root.json`: Fulcio CAs, Rekor logs, CT logs, timestamp
   * authorities), for a private Sigstore or a root fresher than the package's.
   * @default - the Sigstore public-good trusted root pinned in the package
   */
  readonly trustedRootJson?: string;
}

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
    return new SignatureVerification(publicKeys.map(pem => pem.trim() + '\n'), []);
  }

  /**
   * Sigstore bundles, cosign v3's default (`cosign sign` keyless, or `--new-bundle-format`): at
   * least one bundle attached to the source digest (an OCI 1.1 referrer) must verify against the
   * trusted root (the certificate chains to a Fulcio CA with an SCT, the Rekor entry or timestamp
   * verifies), be signed by one of the identities, and be a cosign signature
   * (`https://sigstore.dev/cosign/sign/v1`) of the digest.
   *
   * @param options the identities, and the trusted root when it is not the public-good one
   */
  public static sigstore(options: SigstoreVerificationOptions): SignatureVerification {
    const p = new ValidationProblems('SignatureVerification.sigstore');
    const identities = options.identities;
    if (isToken(identities)) {
      p.add('identities', '<token>', 'a list of identities known at synth');
    } else if (identities.length < 1 || identities.length > MAX_IDENTITIES) {
      p.add('identities', `${identities.length} identities`, `1 to ${MAX_IDENTITIES} identities`);
    } else {
      identities.forEach((identity, i) => {
        const texts = [identity.issuer, identity.subject, identity.subjectPattern];
        if (texts.some(t => t !== undefined && isToken(t))) {
          p.add(`identities[${i}]`, '<token>', 'an issuer and a subject or pattern known at synth');
          return;
        }
        const problem = identityProblem(identity);
        if (problem) {
          p.add(`identities[${i}]`, JSON.stringify(identity).slice(0, 200), `an identity as cosign verify names it; this one ${problem}`);
        }
      });
    }
    if (options.trustedRootJson !== undefined) {
      const problem = isToken(options.trustedRootJson) ? 'is a token' : trustedRootProblem(options.trustedRootJson);
      if (problem) {
        p.add('trustedRootJson', options.trustedRootJson.slice(0, 60), `a Sigstore trusted_root.json known at synth; this one ${problem}`);
      }
    }
    p.throwIfAny();
    const copied = identities.map(i => ({ issuer: i.issuer, subject: i.subject, subjectPattern: i.subjectPattern }));
    return new SignatureVerification([], copied, options.trustedRootJson);
  }

  /**
   * A policy that any one of `policies` satisfies: e.g. the vendor's cosign key while its
   * releases move to keyless Sigstore signatures. At most one of them may name a trusted root.
   *
   * @param policies policies made by `cosignKeys` and `sigstore`
   */
  public static anyOf(policies: SignatureVerification[]): SignatureVerification {
    const p = new ValidationProblems('SignatureVerification.anyOf');
    const roots = policies.map(x => x._trustedRootJson).filter((r): r is string => r !== undefined);
    const keys = policies.flatMap(x => x._publicKeys);
    const identities = policies.flatMap(x => x._identities);
    if (policies.length < 1) {
      p.add('policies', '[]', 'at least one policy');
    }
    if (new Set(roots).size > 1) {
      p.add('policies', `${roots.length} trusted roots`, 'at most one trusted root among the policies');
    }
    if (keys.length > MAX_KEYS || identities.length > MAX_IDENTITIES) {
      p.add('policies', `${keys.length} keys, ${identities.length} identities`, `at most ${MAX_KEYS} keys and ${MAX_IDENTITIES} identities in all`);
    }
    p.throwIfAny();
    return new SignatureVerification(keys, identities, roots[0]);
  }

  /** The PEM public keys. @internal */
  public readonly _publicKeys: string[];
  /** The Sigstore identities. @internal */
  public readonly _identities: SigstoreIdentity[];
  /** The trusted root JSON; undefined: the pinned public-good root. @internal */
  public readonly _trustedRootJson?: string;

  private constructor(publicKeys: string[], identities: SigstoreIdentity[], trustedRootJson?: string) {
    this._publicKeys = publicKeys;
    this._identities = identities;
    this._trustedRootJson = trustedRootJson;
  }

  /**
   * The policy as messages name it: `cosign public keys sha256:<first 16 hex digits of each
   * key's SHA-256>` and `Sigstore identities issuer <url> with subject <subject>`.
   */
  public get description(): string {
    return [
      this._publicKeys.length > 0 ? `cosign public keys ${this._publicKeys.map(pem => (parseTrustedKey(pem) as { fingerprint: string }).fingerprint).join(', ')}` : '',
      this._identities.length > 0 ? `Sigstore identities ${this._identities.map(describeIdentity).join('; ')}` : '',
    ].filter(x => x !== '').join(', or ');
  }
}
