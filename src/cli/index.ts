#!/usr/bin/env node
import { Io } from './args';
import { bundleCommand } from './bundle';
import { chartCommand } from './chart';
import { copyCommand } from './copy';
import { lifecyclePreviewCommand } from './lifecycle-preview';

const USAGE = `Usage:
  cdk-byoc-artifacts copy SRC DST [--src-creds USER:PASS] [--dest-creds USER:PASS]
                                  [--platform OS/ARCH]... [--concurrency N] [--json]
      Copy an image, index or OCI artifact (same digest) from SRC to DST.
      References are host[:port]/repo[:tag][@digest]; loopback hosts use plain HTTP.

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

  cdk-byoc-artifacts --help
`;

/** Runs the CLI with the given words (without `node` and the script) and returns the exit status. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'copy':
      return copyCommand(rest, io);
    case 'lifecycle':
      if (rest[0] === 'preview') {
        return lifecyclePreviewCommand(rest.slice(1), io);
      }
      io.stderr.write(`unknown lifecycle command ${JSON.stringify(rest[0] ?? '')}\n\n${USAGE}`);
      return 2;
    case 'chart':
      return chartCommand(rest, io);
    case 'bundle':
      return bundleCommand(rest, io);
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
