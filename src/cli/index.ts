#!/usr/bin/env node
import * as fs from 'fs';
import * as path from 'path';
import { Io } from './args';

const USAGE = `Usage:
  cdk-byoc-artifacts copy SRC DST [--src-creds USER:PASS] [--dest-creds USER:PASS]
                                  [--platform OS/ARCH]... [--concurrency N] [--json]
                                  [--referrers] [--verify-key FILE]... [--no-clobber] [--authfile FILE]
                                  [--src-cert-dir DIR] [--dest-cert-dir DIR] ...
      Copy an image, index or OCI artifact (same digest) from SRC to DST.
      References are [docker://]host[:port]/repo[:tag][@digest]; loopback hosts use plain HTTP
      unless a cert dir is given. 'cdk-byoc-artifacts copy --help' for every option.

  cdk-byoc-artifacts lifecycle preview POLICY.json IMAGES.json [--now ISO-8601] [--json]
      Show what an ECR lifecycle policy would expire or archive. IMAGES.json may be the output
      of 'aws ecr describe-images' as is.

  cdk-byoc-artifacts chart push SOURCE DST_REPO [--dest-creds USER:PASS] [--prov FILE] [--created RFC3339] [--json]
  cdk-byoc-artifacts chart import REPO_URL CHART VERSION DST_REPO [--repo-creds USER:PASS]
                                  [--dest-creds USER:PASS] [--json]
      Push a chart directory or .tgz as Helm's OCI artifact to DST_REPO:<version>, or import a
      chart version from a classic Helm repository (checked against its index digest).
      'cdk-byoc-artifacts chart --help' for details.

  cdk-byoc-artifacts bundle push SOURCE DST_REPO:TAG --artifact-type TYPE [--archive]
                                 [--exclude PATTERN]... [--dest-creds USER:PASS] [--json]
      Push a directory or a file as an OCI artifact in ORAS's layout (same files, same digest).

  cdk-byoc-artifacts sync CONFIG [--dry-run] [--authfile FILE] [--json]
      Copy many images, or the tags of whole repositories (by list or pattern), as a YAML or
      JSON file lists them, over shared connections; --dry-run prints the plan.

  cdk-byoc-artifacts --version
      Print the package version.

  cdk-byoc-artifacts --help
`;

/**
 * The version of the installed package. The bundle (assets/cli/index.js) and the source
 * (src/cli/index.ts) both sit two levels below package.json.
 */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}

/**
 * A command's module, loaded when the command runs. A plain `require` (the bundle is CommonJS):
 * esbuild bundles the module and runs its top level only on this call.
 */
function load<T>(module: './copy' | './sync' | './lifecycle-preview' | './chart' | './bundle'): T {
  switch (module) {
    // Literal paths, so that the bundler sees and bundles each module.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    case './copy': return require('./copy');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    case './sync': return require('./sync');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    case './lifecycle-preview': return require('./lifecycle-preview');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    case './chart': return require('./chart');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    case './bundle': return require('./bundle');
  }
}

/** Runs the CLI with the given words (without `node` and the script) and returns the exit status. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Commands load their modules when they run: `--version` and `--help` load neither the copy
    // engine nor aws-cdk-lib, and the AWS SDK loads only for an ECR host.
    case 'copy':
      return load<typeof import('./copy')>('./copy').copyCommand(rest, io);
    case 'sync':
      return load<typeof import('./sync')>('./sync').syncCommand(rest, io);
    case 'chart':
      return load<typeof import('./chart')>('./chart').chartCommand(rest, io);
    case 'bundle':
      return load<typeof import('./bundle')>('./bundle').bundleCommand(rest, io);
    case 'lifecycle':
      if (rest[0] === 'preview') {
        return load<typeof import('./lifecycle-preview')>('./lifecycle-preview').lifecyclePreviewCommand(rest.slice(1), io);
      }
      io.stderr.write(`unknown lifecycle command ${JSON.stringify(rest[0] ?? '')}\n\n${USAGE}`);
      return 2;
    case '--version':
    case '-v':
    case 'version':
      io.stdout.write(`${packageVersion()}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      io.stdout.write(USAGE);
      return 0;
    default:
      io.stderr.write(`${command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`}\n\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
    .then((code) => { process.exitCode = code; })
    .catch((err: unknown) => {
      process.stderr.write(`cdk-byoc-artifacts: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
