import * as fs from 'fs';
import { Fn } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';
import { ChartError, PackagedChart, chartArtifact, packChartDirectory, readChartArchive } from './artifacts/chart';
import { writeOciArchive } from './artifacts/oci-archive';
import { checkArchiveSize, checkArchiveSyncOptions } from './private/archive-sync';
import { ValidationProblems } from './private/validation';
import { TenantArtifact, TenantArtifactOptions } from './tenant-artifact';

/**
 * Options of {@link TenantRepository.addChart}: a Helm chart from source.
 */
export interface TenantChartOptions extends TenantArtifactOptions {
  /**
   * A chart directory (with its `Chart.yaml` at the top; `.helmignore` honoured, vendored
   * `charts/` included) or a packaged chart (`.tgz`, pushed with its bytes unchanged, with a
   * `.tgz.prov` beside it as the provenance layer). Packed at synth time, without helm: the same
   * chart always gives the same digest.
   */
  readonly directory: string;
}

/**
 * Properties of a {@link TenantChart}.
 */
export interface TenantChartProps extends TenantChartOptions {
  /** The tenant repository the chart is pushed into. */
  readonly repository: ecr.IRepository;
}

/**
 * A Helm chart from source in a tenant repository: packed at synth time into Helm's own OCI
 * artifact (what `helm push` writes), uploaded as a file asset, and pushed at deploy time by the
 * `ImageSync` function under the chart version (`+` as `_`), pinned to the digest computed at
 * synth. `helm pull` and `helm install oci://...` read it; installs sync it like any component.
 *
 * Create and Update push (a no-op when the tag already names the digest); Delete keeps the chart.
 */
export class TenantChart extends TenantArtifact {
  /** The chart's name (Chart.yaml). */
  public readonly chartName: string;

  /** The chart's version (Chart.yaml), for `helm install --version`. */
  public readonly chartVersion: string;

  /** The repository as Helm names it: `oci://<repositoryUri>`, with `--version <chartVersion>`. */
  public readonly chartRepositoryUrl: string;

  /** The digest-pinned chart for `helm install NAME <chartReference>`: `oci://<repositoryUri>@<digest>`. */
  public readonly chartReference: string;

  constructor(scope: Construct, id: string, props: TenantChartProps) {
    super(scope, id);
    const p = new ValidationProblems('TenantChart');
    let chart: PackagedChart | undefined;
    let prov: Buffer | undefined;
    if (typeof props.directory !== 'string' || props.directory === '') {
      p.add('directory', props.directory, 'a chart directory with a Chart.yaml at its top, or a packaged chart (.tgz)');
    } else {
      try {
        ({ chart, prov } = readChart(props.directory));
      } catch (err) {
        if (!(err instanceof ChartError)) throw err;
        p.add('directory', props.directory, `a chart Helm would load (${err.message})`);
      }
    }
    const artifact = chart ? chartArtifact(chart, { prov }) : undefined;
    const archive = artifact ? writeOciArchive(artifact) : undefined;
    if (archive) {
      checkArchiveSize(p, 'directory', props.directory, archive, 'a chart');
    }
    checkArchiveSyncOptions(p, this, 'TenantChart', props);
    p.throwIfAny();

    this._push(props.repository, artifact!, archive!, artifact!.tag, props);
    this.chartName = chart!.metadata.name;
    this.chartVersion = chart!.metadata.version;
    this.chartRepositoryUrl = Fn.join('', ['oci://', props.repository.repositoryUri]);
    this.chartReference = Fn.join('', ['oci://', props.repository.repositoryUri, '@', this.imageDigest]);
  }
}

/** A chart directory packed, or a packaged chart read as it is (with a provenance file beside it, as `helm push` takes it). */
function readChart(source: string): { chart: PackagedChart; prov?: Buffer } {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new ChartError(`${source}: no such chart directory or .tgz`);
  }
  if (stat.isDirectory()) {
    return { chart: packChartDirectory(source) };
  }
  const chart = readChartArchive(fs.readFileSync(source), source);
  const provFile = `${source}.prov`;
  return { chart, prov: fs.existsSync(provFile) ? fs.readFileSync(provFile) : undefined };
}
