/**
 * `bundle push`: a directory or a file as an OCI artifact in ORAS's layout, without oras.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Io, UsageError, lastValue, parseArgs } from './args';
import { PushTarget, pushAndReport, pushTarget } from './artifact-push';
import { BundleError, bundleArtifact, bundleDirectory } from '../artifacts/bundle';
import { OciArtifact } from '../artifacts/oci';

export const BUNDLE_USAGE = `Usage:
  cdk-byoc-artifacts bundle push SOURCE DST_REPO:TAG --artifact-type TYPE [--archive]
                                 [--exclude PATTERN]... [--created RFC3339]
                                 [--dest-creds USER:PASS] [--json]
      Pushes SOURCE (a directory, or one file) as an OCI artifact in the layout 'oras push'
      writes: TYPE as the manifest's artifactType, the empty config, one layer per file titled
      with its path (--archive: the directory as one tar+gzip layer that 'oras pull' unpacks).
      --exclude takes .helmignore patterns (e.g. '.terraform/'). Fixed modes and times: the
      same files give the same digest. Prints DST_REPO@sha256:...
Exit status: 0 when DST_REPO holds the bundle under TAG, 1 on failure, 2 for usage errors.
`;

/** `cdk-byoc-artifacts bundle ...`; argv are the words after `bundle`. Returns the exit status. */
export async function bundleCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(BUNDLE_USAGE);
    return 0;
  }
  if (sub !== 'push') {
    io.stderr.write(`bundle: ${sub === undefined ? 'missing command (push)' : `unknown command ${JSON.stringify(sub)}`}\n\n${BUNDLE_USAGE}`);
    return 2;
  }
  let target: PushTarget;
  let source: string;
  let options: { artifactType: string; archive: boolean; exclude: string[]; created?: string };
  try {
    const args = parseArgs(rest, { values: ['--dest-creds', '--artifact-type', '--exclude', '--created'], flags: ['--json', '--archive'] });
    if (args === 'help') {
      io.stdout.write(BUNDLE_USAGE);
      return 0;
    }
    if (args.positional.length !== 2) {
      throw new UsageError(`expected SOURCE and DST_REPO:TAG, got ${args.positional.length} argument(s)`);
    }
    const artifactType = lastValue(args, '--artifact-type');
    if (artifactType === undefined) {
      throw new UsageError('--artifact-type is required, e.g. application/vnd.acme.terraform.module.v1');
    }
    source = args.positional[0];
    target = pushTarget({ dst: args.positional[1], destCreds: lastValue(args, '--dest-creds'), json: args.flags.has('--json') }, io.env, 'required', 'DST_REPO:TAG');
    options = { artifactType, archive: args.flags.has('--archive'), exclude: args.values.get('--exclude') ?? [], created: lastValue(args, '--created') };
  } catch (err) {
    io.stderr.write(`bundle push: ${(err as Error).message}\n\n${BUNDLE_USAGE}`);
    return 2;
  }
  let artifact: OciArtifact;
  try {
    const common = { artifactType: options.artifactType, tag: target.destination.tag!, created: options.created };
    if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
      artifact = bundleDirectory(source, { ...common, layout: options.archive ? 'archive' : 'files', exclude: options.exclude });
    } else if (fs.existsSync(source)) {
      if (options.archive || options.exclude.length > 0) {
        throw new BundleError('--archive and --exclude are for a directory SOURCE');
      }
      artifact = bundleArtifact([{ name: path.basename(source), data: fs.readFileSync(source) }], common);
    } else {
      throw new BundleError(`SOURCE ${JSON.stringify(source)}: no such file or directory`);
    }
  } catch (err) {
    if (err instanceof BundleError) {
      io.stderr.write(`bundle push: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  return pushAndReport(artifact, target, io, 'bundle push');
}
