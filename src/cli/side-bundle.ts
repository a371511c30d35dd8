/**
 * Large dependencies that only some runs need (the AWS SDK for ECR logins, the YAML parser for
 * `sync`, the Sigstore bundle verifier) ship as bundles of their own beside the CLI's (assets/cli/<name>.js): parsing them
 * took longer than the rest of the CLI's start-up, so only the runs that use them pay for it.
 */
import * as fs from 'fs';
import * as path from 'path';

/**
 * The side bundle `name` (see ecr-sdk.ts, yaml.ts, sigstore.ts), or, run from source where there
 * is none, `fromSource()`, which requires the package itself (external to the CLI bundle).
 */
export function loadSideBundle<T>(name: 'ecr-sdk' | 'yaml' | 'sigstore', fromSource: () => T): T {
  const bundled = path.join(__dirname, `${name}.js`);
  // A path the bundler cannot follow: the CLI bundle must not take the dependency in.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return fs.existsSync(bundled) ? require(bundled) : fromSource();
}

/** The Sigstore bundle verifier, loaded the first time a copy examines a bundle. */
export function loadBundleVerifier(): typeof import('./sigstore')['createBundleVerifier'] {
  // From source, a path the bundler cannot follow either: sigstore.ts beside this file.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadSideBundle<typeof import('./sigstore')>('sigstore', () => require(path.join(__dirname, 'sigstore'))).createBundleVerifier;
}
