/**
 * The Sigstore bundle verifier (`@sigstore/verify` and the pinned trusted root), bundled on its
 * own (assets/cli/sigstore.js; see side-bundle.ts): only a copy that meets a Sigstore bundle
 * under a verification policy reads it.
 */
export { createBundleVerifier } from '../sync/sigstore-verify';
