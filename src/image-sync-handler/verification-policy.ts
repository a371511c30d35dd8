/**
 * The verification policy of the resource properties: the PEM public keys
 * (`VerificationPublicKeys`) and the Sigstore identities with their trusted root
 * (`VerificationSigstore`, JSON), checked as the construct checked them.
 */
import { Props } from '../image-sync-contract';
import { SigstoreIdentity, identityProblem, trustedRootProblem } from '../private/sigstore-policy';

export interface VerificationPolicy {
  /** PEM public keys; absent: no key verification. */
  readonly verificationPublicKeys?: string[];
  /** The Sigstore identities and the trusted root; absent: no Sigstore verification. */
  readonly verificationSigstore?: { readonly identities: SigstoreIdentity[]; readonly trustedRoot?: string };
}

/** A source kind that carries no signatures (an archive, a Helm repository) takes no policy. */
export function checkNoPolicy(props: { [key: string]: unknown }, kind: string, problems: string[]): void {
  for (const key of [Props.VERIFICATION_PUBLIC_KEYS, Props.VERIFICATION_SIGSTORE]) {
    if (props[key] !== undefined) {
      problems.push(`${key} is not allowed with ${Props.SOURCE_KIND} ${kind}: only a registry source carries signatures`);
    }
  }
}

/** Reads the policy; what is wrong goes to `problems`. */
export function readVerificationPolicy(props: { [key: string]: unknown }, problems: string[]): VerificationPolicy {
  return {
    verificationPublicKeys: readPublicKeys(props[Props.VERIFICATION_PUBLIC_KEYS], problems),
    verificationSigstore: readSigstorePolicy(props[Props.VERIFICATION_SIGSTORE], problems),
  };
}

function readPublicKeys(raw: unknown, problems: string[]): string[] | undefined {
  if (raw === undefined) {
    return undefined;
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((x) => typeof x !== 'string')) {
    problems.push(`${Props.VERIFICATION_PUBLIC_KEYS} must be a non-empty list of PEM public keys`);
    return undefined;
  }
  return raw as string[];
}

function readSigstorePolicy(raw: unknown, problems: string[]): VerificationPolicy['verificationSigstore'] {
  if (raw === undefined) {
    return undefined;
  }
  let policy: any;
  try {
    policy = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    policy = undefined;
  }
  const identities: unknown = policy?.identities;
  if (!Array.isArray(identities) || identities.length === 0 || (policy.trustedRoot !== undefined && typeof policy.trustedRoot !== 'string')) {
    problems.push(`${Props.VERIFICATION_SIGSTORE} must be JSON {"identities":[{"issuer":...,"subject":...}],"trustedRoot"?:"..."}`);
    return undefined;
  }
  const found = identities.map((i: any, n) => {
    const identity: SigstoreIdentity = {
      issuer: String(i?.issuer), subject: i?.subject ?? undefined, subjectPattern: i?.subjectPattern ?? undefined,
    };
    const problem = identityProblem(identity);
    if (problem) {
      problems.push(`${Props.VERIFICATION_SIGSTORE} identities[${n}] ${problem}`);
    }
    return identity;
  });
  const rootProblem = policy.trustedRoot === undefined ? undefined : trustedRootProblem(policy.trustedRoot);
  if (rootProblem) {
    problems.push(`${Props.VERIFICATION_SIGSTORE} trustedRoot ${rootProblem}`);
  }
  return { identities: found, trustedRoot: policy.trustedRoot };
}
