/**
 * A Sigstore verification policy's identities and trusted root: checked at synth (the
 * SignatureVerification class) and at run time (the copy engine), and matched against a
 * bundle's signer, by the same code.
 */

/** A signer the policy trusts: the OIDC issuer, and the subject exactly or by a pattern. */
export interface SigstoreIdentity {
  /** The OIDC issuer, compared exactly (`https://token.actions.githubusercontent.com`). */
  readonly issuer: string;
  /** The certificate's subject (email or URI), compared exactly. */
  readonly subject?: string;
  /** A regular expression the whole subject must match (anchored at both ends). */
  readonly subjectPattern?: string;
}

/** How messages name an identity. */
export function describeIdentity(identity: SigstoreIdentity): string {
  return `issuer ${identity.issuer} with subject ${identity.subject ?? `matching /${identity.subjectPattern}/`}`;
}

/** Why `pattern` cannot be a subject pattern; undefined when it can. */
export function subjectPatternProblem(pattern: string): string | undefined {
  try {
    new RegExp(`^(?:${pattern})$`, 'u');
    return undefined;
  } catch (err) {
    return `does not compile as a regular expression (${(err as Error).message})`;
  }
}

/** Whether a certificate signer is one of `identities`. */
export function matchesIdentity(identities: readonly SigstoreIdentity[], signer: { readonly issuer?: string; readonly subject?: string }): boolean {
  return identities.some(i => signer.issuer === i.issuer && signer.subject !== undefined && (i.subject !== undefined
    ? signer.subject === i.subject
    : new RegExp(`^(?:${i.subjectPattern})$`, 'u').test(signer.subject)));
}

/** Why `identity` cannot be a policy's Sigstore identity; undefined when it can. */
export function identityProblem(identity: SigstoreIdentity): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(identity.issuer);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:') {
    return `issuer ${JSON.stringify(identity.issuer)} is not allowed: an https URL (the OIDC issuer, as cosign's --certificate-oidc-issuer)`;
  }
  if ((identity.subject === undefined) === (identity.subjectPattern === undefined)) {
    return 'must have exactly one of subject and subjectPattern';
  }
  if (identity.subject !== undefined && identity.subject.length === 0) {
    return 'subject "" is not allowed: the certificate\'s subject (an email or a URI)';
  }
  const patternProblem = identity.subjectPattern !== undefined ? subjectPatternProblem(identity.subjectPattern) : undefined;
  return patternProblem ? `subjectPattern ${JSON.stringify(identity.subjectPattern)} ${patternProblem}` : undefined;
}

/** Why `json` cannot be a Sigstore trusted root; undefined when it can. */
export function trustedRootProblem(json: string): string | undefined {
  let root: any;
  try {
    root = JSON.parse(json);
  } catch (err) {
    return `is not JSON (${(err as Error).message})`;
  }
  if (typeof root?.mediaType !== 'string' || !root.mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) {
    return 'is not a Sigstore trusted root: its mediaType must be application/vnd.dev.sigstore.trustedroot+json;version=0.1 (or later)';
  }
  for (const list of ['certificateAuthorities', 'tlogs']) {
    if (!Array.isArray(root[list])) {
      return `is not a Sigstore trusted root: it has no ${list} list`;
    }
  }
  return undefined;
}
