import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CustomResource, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3_assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { S3_GET_OBJECT_ACTIONS } from './perms';
import { createSyncResource, SyncSource } from './sync-resource';
import { isToken, checkWholeSeconds, ValidationProblems } from './validation';
import { OciArtifact, sha256 } from '../artifacts/oci';
import { MAX_OCI_ARCHIVE_BYTES } from '../artifacts/oci-archive';
import { Attributes, DEFAULT_TOTAL_TIMEOUT_SECONDS, Props, SourceKinds } from '../image-sync-contract';
import { ImageSyncDestination } from '../image-sync-destination';
import { ImageSyncProvider } from '../image-sync-provider';

const RELEASE_ID = /^[\w+=,.@-]{1,64}$/;

/** The deploy-time options every archive-backed artifact shares (validated here). */
export interface ArchiveSyncOptions {
  readonly releaseId?: string;
  readonly totalTimeout?: Duration;
  readonly provider?: ImageSyncProvider;
}

/** Records the problems of the shared options. */
export function checkArchiveSyncOptions(p: ValidationProblems, scope: Construct, construct: string, options: ArchiveSyncOptions): void {
  if (options.releaseId !== undefined && !isToken(options.releaseId) && !RELEASE_ID.test(options.releaseId)) {
    p.add('releaseId', options.releaseId, '1-64 characters of letters, digits and _+=,.@- (it becomes part of the STS session name)');
  }
  checkWholeSeconds(p, 'totalTimeout', options.totalTimeout ?? Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS), 300, DEFAULT_TOTAL_TIMEOUT_SECONDS,
    'between 5 minutes and 1 hour (CloudFormation waits at most 1 hour for a custom resource)', undefined, (_, seconds) => `${seconds} seconds`);
  if (options.provider !== undefined && Stack.of(options.provider) !== Stack.of(scope)) {
    p.add('provider', options.provider.node.path, `a provider of this ${construct}'s stack ${Stack.of(scope).node.path}`);
  }
}

/** The archive's size problem, if any: the sync function reads it into memory. */
export function checkArchiveSize(p: ValidationProblems, prop: string, value: unknown, archive: Buffer, what: string): void {
  if (archive.length > MAX_OCI_ARCHIVE_BYTES) {
    p.add(prop, value, `${what} whose packed artifact is at most ${MAX_OCI_ARCHIVE_BYTES / 1024 / 1024} MiB (this one is ` +
      `${(archive.length / 1024 / 1024).toFixed(1)} MiB); push larger artifacts from CI with the cdk-byoc-artifacts command`);
  }
}

/** What `createArchiveSync` built. */
export interface ArchiveSync {
  readonly asset: s3_assets.Asset;
  readonly resource: CustomResource;
  readonly provider: ImageSyncProvider;
  /** The pushed digest, from the custom resource. */
  readonly imageDigest: string;
  /** `<repositoryUri>@<imageDigest>`. */
  readonly imageUri: string;
  /** The tag the artifact is pushed under. */
  readonly imageTag: string;
  /** The repository's URI. */
  readonly repositoryUri: string;
}

/**
 * The archive as a file asset (uploaded as it is, not zipped) and the `Custom::ImageSync` resource
 * that pushes its artifact into the repository under the tag, pinned to the artifact's digest.
 */
export function createArchiveSync(
  scope: Construct, repository: ecr.IRepository, artifact: OciArtifact, archive: Buffer, tag: string, options: ArchiveSyncOptions,
): ArchiveSync {
  const asset = new s3_assets.Asset(scope, 'Archive', { path: stageArchive(archive) });
  const provider = options.provider ?? ImageSyncProvider.of(scope);
  const resource = createSyncResource(scope, {
    provider,
    source: new ArchiveSource(asset),
    destination: ImageSyncDestination.fromEcr(repository),
    destinationTag: tag,
    removeOnDelete: false,
    totalTimeout: options.totalTimeout ?? Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS),
    releaseId: options.releaseId,
    expectedSourceDigest: artifact.digest,
  });
  const imageDigest = resource.getAttString(Attributes.IMAGE_DIGEST);
  const imageUri = Fn.join('', [repository.repositoryUri, '@', imageDigest]);
  return { asset, resource, provider, imageDigest, imageUri, imageTag: tag, repositoryUri: repository.repositoryUri };
}

/** The archive asset as a sync source: the function may read that one object, nothing else of the bucket. */
export class ArchiveSource implements SyncSource {
  constructor(private readonly asset: s3_assets.Asset) {}

  public _bind(provider: ImageSyncProvider): { [key: string]: string } {
    provider.function.addToRolePolicy(new iam.PolicyStatement({
      actions: S3_GET_OBJECT_ACTIONS,
      resources: [this.asset.bucket.arnForObjects(this.asset.s3ObjectKey)],
    }));
    return {
      [Props.SOURCE_KIND]: SourceKinds.OCI_ARCHIVE,
      [Props.SOURCE_BUCKET]: this.asset.s3BucketName,
      [Props.SOURCE_OBJECT_KEY]: this.asset.s3ObjectKey,
    };
  }
}

/**
 * Writes the archive into a staging directory under the name of its own sha256 (the asset is
 * staged from there into the cloud assembly) and returns its path. The same bytes, the same
 * file: a second synth finds it in place.
 */
export function stageArchive(archive: Buffer): string {
  const dir = path.join(os.tmpdir(), 'cdk-byoc-artifacts-oci-archives');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${sha256(archive).slice('sha256:'.length)}.tar`);
  if (!fs.existsSync(file) || fs.statSync(file).size !== archive.length) {
    // Written aside and renamed: synths running side by side never see half a file.
    const partial = `${file}.${process.pid}.${Date.now()}`;
    fs.writeFileSync(partial, archive);
    fs.renameSync(partial, file);
  }
  return file;
}
