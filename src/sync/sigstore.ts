/**
 * Verification before the tag moves, the Sigstore half: the bundles cosign v3 stores by default
 * (`cosign sign`, or `--new-bundle-format` before v3).
 *
 * cosign stores an image signature as an OCI 1.1 referrer of the image: a manifest of artifact
 * type `application/vnd.dev.sigstore.bundle.v0.3+json` whose one layer, of the same media type,
 * is the bundle's JSON. The bundle holds a DSSE envelope (payload type
 * `application/vnd.in-toto+json`) around an in-toto statement whose predicate type is
 * `https://sigstore.dev/cosign/sign/v1` and whose subject's `sha256` digest is the image's
 * manifest digest; with a Fulcio certificate (keyless) or a public-key hint (`--key`), a Rekor
 * entry and possibly an RFC 3161 timestamp.
 *
 * A bundle counts when it verifies against the trusted root (sigstore-verify.ts), its signer is
 * one of the policy's identities (the OIDC issuer exactly, the subject exactly or by a regular
 * expression that must match all of it) or it verified with one of the policy's keys, and its
 * statement is a cosign signature naming the source digest.
 */
import { Descriptor, parseManifest } from './manifest-format';
import type { BundleSigner, BundleVerifier, BundleVerifierFactory } from './sigstore-verify';
import { BlobSource, readSmallBlob } from './small-blob';
import type { TrustedKey } from '../private/cosign-keys';
import { SigstoreIdentity, matchesIdentity } from '../private/sigstore-policy';

export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** A bundle is a few kilobytes (a certificate chain, a log entry, a statement): a larger one is not read. */
export const MAX_BUNDLE_SIZE = 128 * 1024;
/** Bundles examined for one image, at most. */
export const MAX_BUNDLES = 16;

/** The Sigstore side of a verification policy. */
export interface SigstorePolicy {
  readonly identities: readonly SigstoreIdentity[];
  /** Key-signed bundles verify with these. */
  readonly keys: readonly TrustedKey[];
  /** Trusted root JSON; undefined: the pinned public-good root. */
  readonly trustedRoot?: string;
  /** Loads the verifier (lazily: only a run that meets a bundle pays for it). */
  readonly loadVerifier?: () => BundleVerifierFactory;
}

/** What a bundle's signed statement says about `digest`: undefined when it is a cosign signature of it. */
export function statementProblem(bundle: any, digest: string): string | undefined {
  const envelope = bundle?.dsseEnvelope;
  if (!envelope) {
    return 'is a message signature, not a cosign image signature (a DSSE envelope)';
  }
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return `signs a payload of type ${String(envelope.payloadType).slice(0, 80)}, not an in-toto statement`;
  }
  let statement: any;
  try {
    statement = JSON.parse(Buffer.from(String(envelope.payload), 'base64').toString('utf8'));
  } catch {
    return 'signs a statement that is not JSON';
  }
  if (statement?.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
    return `is a ${String(statement?.predicateType).slice(0, 120)} attestation, not a cosign signature (${COSIGN_SIGN_PREDICATE_TYPE})`;
  }
  const subjects: any[] = Array.isArray(statement.subject) ? statement.subject : [];
  const hex = digest.slice('sha256:'.length);
  if (!subjects.some(s => s?.digest?.sha256 === hex)) {
    const named = subjects.map(s => `sha256:${String(s?.digest?.sha256).slice(0, 64)}`).join(', ');
    return `signs ${named || 'no digest'}, not ${digest}`;
  }
  return undefined;
}

/**
 * Examines the bundles `descriptors` list (referrers of `digest`) and returns the first that
 * satisfies `policy`; why each other did not count goes to `problems`.
 */
export async function verifyBundles(
  source: BlobSource, descriptors: readonly Descriptor[], digest: string, policy: SigstorePolicy, problems: string[],
): Promise<{ manifest: string; by: string } | undefined> {
  const { client, repository } = source;
  let verifier: BundleVerifier | undefined;
  for (const [index, d] of descriptors.entries()) {
    const where = `${repository}@${d.digest}`;
    if (index >= MAX_BUNDLES) {
      problems.push(`more than ${MAX_BUNDLES} Sigstore bundles: the rest were not examined`);
      return undefined;
    }
    if (!policy.loadVerifier) {
      problems.push(`${where}: a Sigstore bundle, not verified (no Sigstore verifier in this build)`);
      continue;
    }
    const manifest = await client.getManifest(repository, d.digest, source.scopes, d.size);
    if (!manifest) {
      problems.push(`${where}: listed as a referrer, but the registry does not have it`);
      continue;
    }
    let layers: Descriptor[];
    try {
      layers = parseManifest(manifest.bytes, manifest.mediaType).layers.filter(l => l.mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE);
    } catch (err) {
      problems.push(`${where} is not a bundle manifest (${(err as Error).message})`);
      continue;
    }
    if (layers.length !== 1) {
      problems.push(`${where}: ${layers.length} layers of type ${SIGSTORE_BUNDLE_MEDIA_TYPE}, not one`);
      continue;
    }
    if (layers[0].size > MAX_BUNDLE_SIZE) {
      problems.push(`${where}: a bundle of ${layers[0].size} bytes, more than ${MAX_BUNDLE_SIZE}`);
      continue;
    }
    let bundle: unknown;
    try {
      bundle = JSON.parse((await readSmallBlob(source, layers[0], MAX_BUNDLE_SIZE, 'Sigstore bundle')).toString('utf8'));
    } catch (err) {
      if (!(err instanceof SyntaxError)) {
        throw err;
      }
      problems.push(`${where}: a bundle that is not JSON`);
      continue;
    }
    verifier ??= policy.loadVerifier()(policy.trustedRoot, policy.keys);
    let signer: BundleSigner;
    try {
      signer = verifier.verify(bundle);
    } catch (err) {
      problems.push(`${where}: a bundle that does not verify: ${String((err as Error).message).slice(0, 300)}`);
      continue;
    }
    const by = signer.key ?? `issuer ${signer.issuer ?? '(none)'}, subject ${signer.subject ?? '(none)'}`;
    if (signer.key === undefined && !matchesIdentity(policy.identities, signer)) {
      problems.push(`${where}: signed by ${by}, not an identity of the policy`);
      continue;
    }
    const problem = statementProblem(bundle, digest);
    if (problem) {
      problems.push(`${where}: a bundle signed by ${by} that ${problem}`);
      continue;
    }
    return { manifest: manifest.digest, by };
  }
  return undefined;
}
