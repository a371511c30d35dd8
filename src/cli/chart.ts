/**
 * `chart push` and `chart import`: Helm charts into an OCI registry as Helm's own artifact,
 * without helm or docker.
 */
import * as fs from 'fs';
import { ChartError, PackagedChart, chartArtifact, packChartDirectory, readChartArchive } from '../artifacts/chart';
import { OciArtifact } from '../artifacts/oci';
import { ImageReference } from '../image-reference';
import { RegistryCredentials } from '../sync';
import { Io, UsageError, lastValue, parseArgs } from './args';
import { PushTarget, pushAndReport, pushTarget, redactorFor, reportFailure } from './artifact-push';
import { parseCreds } from './credentials';
import { fetchHelmChart } from '../sync/helm-repository';

export const CHART_USAGE = `Usage:
  cdk-byoc-artifacts chart push SOURCE DST_REPO [--dest-creds USER:PASS] [--prov FILE]
                                [--created RFC3339] [--json]
      SOURCE is a chart directory or a packaged chart (.tgz). Packs it as Helm's OCI artifact
      (helm's media types and annotations; a directory's archive has every entry under
      <name>/, .helmignore honoured, fixed modes and times) and pushes it to
      DST_REPO:<version> ('+' in the version becomes '_'). A .tgz is pushed unchanged, with
      FILE.prov beside it as the provenance layer. The same input gives the same digest.

  cdk-byoc-artifacts chart import REPO_URL CHART VERSION DST_REPO [--repo-creds USER:PASS]
                                  [--dest-creds USER:PASS] [--json]
      Reads REPO_URL/index.yaml of a classic Helm repository, downloads CHART VERSION, checks
      it against the index's sha256 and pushes the archive unchanged (created = the index
      entry's time). A mismatch pushes nothing.

DST_REPO is host[:port]/repository (an oci:// prefix is fine). Both print DST_REPO@sha256:...
Credentials: --dest-creds or CDK_BYOC_DEST_CREDS; ECR hosts without credentials log in through
the default AWS credential chain. --repo-creds or CDK_BYOC_REPO_CREDS go to REPO_URL's origin only.
Exit status: 0 when DST_REPO holds the chart under its version tag, 1 on failure, 2 for usage errors.
`;

/** `cdk-byoc-artifacts chart ...`; argv are the words after `chart`. Returns the exit status. */
export async function chartCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'push') {
    return chartPush(rest, io);
  }
  if (sub === 'import') {
    return chartImport(rest, io);
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(CHART_USAGE);
    return 0;
  }
  io.stderr.write(`chart: ${sub === undefined ? 'missing command (push or import)' : `unknown command ${JSON.stringify(sub)}`}\n\n${CHART_USAGE}`);
  return 2;
}

async function chartPush(argv: string[], io: Io): Promise<number> {
  let common: PushTarget;
  let source: string;
  let prov: string | undefined;
  let created: string | undefined;
  try {
    const args = parseArgs(argv, { values: ['--dest-creds', '--prov', '--created'], flags: ['--json'] });
    if (args === 'help') {
      io.stdout.write(CHART_USAGE);
      return 0;
    }
    if (args.positional.length !== 2) {
      throw new UsageError(`expected SOURCE and DST_REPO, got ${args.positional.length} argument(s)`);
    }
    source = args.positional[0];
    common = pushTarget({ dst: args.positional[1], destCreds: lastValue(args, '--dest-creds'), json: args.flags.has('--json') }, io.env, 'forbidden');
    prov = lastValue(args, '--prov');
    created = lastValue(args, '--created');
  } catch (err) {
    io.stderr.write(`chart push: ${(err as Error).message}\n\n${CHART_USAGE}`);
    return 2;
  }
  let artifact: OciArtifact;
  let chart: PackagedChart;
  try {
    let provBytes: Buffer | undefined;
    if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
      chart = packChartDirectory(source);
    } else {
      chart = readChartArchive(readFile(source, 'SOURCE'), source);
      // As `helm push` does: a provenance file beside the archive goes with it.
      if (prov === undefined && fs.existsSync(`${source}.prov`)) {
        prov = `${source}.prov`;
      }
    }
    if (prov !== undefined) {
      provBytes = readFile(prov, '--prov');
    }
    artifact = chartArtifact(chart, { prov: provBytes, created });
  } catch (err) {
    if (err instanceof ChartError) {
      io.stderr.write(`chart push: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  warnOnName(common.destination, chart.metadata.name, io);
  return pushAndReport(artifact, common, io, 'chart push');
}

async function chartImport(argv: string[], io: Io): Promise<number> {
  let common: PushTarget;
  let repoUrl: string;
  let chart: string;
  let version: string;
  let repoCredentials: RegistryCredentials | undefined;
  try {
    const args = parseArgs(argv, { values: ['--dest-creds', '--repo-creds'], flags: ['--json'] });
    if (args === 'help') {
      io.stdout.write(CHART_USAGE);
      return 0;
    }
    if (args.positional.length !== 4) {
      throw new UsageError(`expected REPO_URL CHART VERSION DST_REPO, got ${args.positional.length} argument(s)`);
    }
    [repoUrl, chart, version] = args.positional;
    common = pushTarget({ dst: args.positional[3], destCreds: lastValue(args, '--dest-creds'), json: args.flags.has('--json') }, io.env, 'forbidden');
    const repoCreds = lastValue(args, '--repo-creds') ?? (io.env.CDK_BYOC_REPO_CREDS || undefined);
    repoCredentials = repoCreds === undefined ? undefined : parseCreds(repoCreds, '--repo-creds / CDK_BYOC_REPO_CREDS');
  } catch (err) {
    io.stderr.write(`chart import: ${(err as Error).message}\n\n${CHART_USAGE}`);
    return 2;
  }
  const redactor = redactorFor(common, repoCredentials);
  let artifact: OciArtifact;
  try {
    const fetched = await fetchHelmChart({
      repoUrl,
      chart,
      version,
      credentials: repoCredentials,
      redactor,
      onRetry: message => io.stderr.write(`${message}\n`),
    });
    artifact = chartArtifact(fetched.chart, { created: fetched.entry.created });
    io.stderr.write(redactor.text(`chart import: ${fetched.url.replace(/\?.*$/, '')} matches the index digest ${fetched.entry.digest}`) + '\n');
  } catch (err) {
    return reportFailure(err, redactor, io, 'chart import', common.json);
  }
  warnOnName(common.destination, chart, io);
  return pushAndReport(artifact, common, io, 'chart import');
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ChartError(`${what} ${JSON.stringify(file)}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
}

function warnOnName(destination: ImageReference, name: string, io: Io): void {
  const base = destination.repository.slice(destination.repository.lastIndexOf('/') + 1);
  if (base !== name) {
    io.stderr.write(`note: the repository's last path part ${JSON.stringify(base)} is not the chart name ${JSON.stringify(name)}; `
      + '`helm push` would refuse that, `helm pull` and `helm install` accept it\n');
  }
}

