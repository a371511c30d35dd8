import * as fs from 'fs';
import { CustomResource, Duration, Fn } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3_assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { ChartError, PackagedChart, chartArtifact, packChartDirectory, readChartArchive } from './artifacts/chart';
import { writeOciArchive } from './artifacts/oci-archive';
import { ImageSyncProvider } from './image-sync-provider';
import { checkArchiveSize, checkArchiveSyncOptions, createArchiveSync } from './private/archive-sync';
import { ValidationProblems } from './private/validation';

/**
 * The deploy-time options of an artifact packed at synth time and pushed into a tenant repository
 * (`TenantRepository.addChart`, `addBundle`).
 */
export interface TenantArtifactOptions {
  /**
   * A release id. Changing it runs the push again (a no-op when the repository holds the artifact
   * under the tag).
   *
   * @default - no release id
   */
  readonly releaseId?: string;

  /**
   * The time budget of one Create or Update. At most one hour.
   *
   * @default Duration.hours(1)
   */
  readonly totalTimeout?: Duration;

  /**
   * The provider whose function runs the push. It must belong to this stack.
   *
   * @default - the stack's shared provider, `ImageSyncProvider.of(this)`
   */
  readonly provider?: ImageSyncProvider;
}

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
export class TenantChart extends Construct {
  /** The chart artifact's digest (`sha256:...`), from the custom resource: the digest computed at synth. */
  public readonly imageDigest: string;

  /** `<repositoryUri>@<imageDigest>`. */
  public readonly imageUri: string;

  /** The tag written: the chart version with `+` as `_`, as Helm tags it. */
  public readonly imageTag: string;

  /** The chart's name (Chart.yaml). */
  public readonly chartName: string;

  /** The chart's version (Chart.yaml), for `helm install --version`. */
  public readonly chartVersion: string;

  /** The repository as Helm names it: `oci://<repositoryUri>`, with `--version <chartVersion>`. */
  public readonly chartRepositoryUrl: string;

  /** The digest-pinned chart for `helm install NAME <chartReference>`: `oci://<repositoryUri>@<digest>`. */
  public readonly chartReference: string;

  /** The tenant repository's URI. */
  public readonly repositoryUri: string;

  /** The file asset holding the chart's `oci-archive` (its OCI image layout as one tar file). */
  public readonly asset: s3_assets.Asset;

  /** The custom resource. */
  public readonly resource: CustomResource;

  /** The provider that runs the push. */
  public readonly provider: ImageSyncProvider;

  /** The provider's sync function. */
  public readonly syncFunction: lambda.IFunction;

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

    const sync = createArchiveSync(this, props.repository, artifact!, archive!, artifact!.tag, props);
    this.asset = sync.asset;
    this.resource = sync.resource;
    this.provider = sync.provider;
    this.syncFunction = sync.provider.function;
    this.imageDigest = sync.imageDigest;
    this.imageUri = sync.imageUri;
    this.imageTag = artifact!.tag;
    this.chartName = chart!.metadata.name;
    this.chartVersion = chart!.metadata.version;
    this.repositoryUri = props.repository.repositoryUri;
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
