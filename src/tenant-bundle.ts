import * as fs from 'fs';
import * as path from 'path';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';
import { BundleError, MEDIA_TYPE, bundleArtifact, bundleDirectory } from './artifacts/bundle';
import { OciArtifact } from './artifacts/oci';
import { writeOciArchive } from './artifacts/oci-archive';
import { checkArchiveSize, checkArchiveSyncOptions } from './private/archive-sync';
import { checkImageTag, isToken, ValidationProblems } from './private/validation';
import { TenantArtifact, TenantArtifactOptions } from './tenant-artifact';

/**
 * Options of {@link TenantRepository.addBundle}: files (a Terraform module, configuration) as an
 * OCI artifact in the layout ORAS writes.
 */
export interface TenantBundleOptions extends TenantArtifactOptions {
  /**
   * A directory whose files (symbolic links followed, `exclude` left out) become the bundle, each
   * titled with its path in the directory.
   *
   * @default - none; give `directory` or `files`
   */
  readonly directory?: string;

  /**
   * Files that become the bundle, each titled with its base name (which must differ).
   *
   * @default - none; give `directory` or `files`
   */
  readonly files?: string[];

  /**
   * The manifest's `artifactType`, e.g. `application/vnd.acme.terraform.module.v1`.
   */
  readonly artifactType: string;

  /**
   * The tag written in the repository (a bundle has no version of its own). Tenant tags are
   * immutable: another bundle takes another tag.
   */
  readonly tag: string;

  /**
   * Pack the directory as one tar+gzip layer titled with its name, which `oras pull` unpacks
   * (ORAS's `io.deis.oras.content.unpack`), instead of one layer per file. Only with `directory`.
   *
   * @default false
   */
  readonly archive?: boolean;

  /**
   * Paths of the directory left out, in `.helmignore` syntax (e.g. `.terraform/`, `*.tfstate`).
   * Only with `directory`.
   *
   * @default - every file
   */
  readonly exclude?: string[];

  /**
   * The media type of each file layer.
   *
   * @default 'application/vnd.oci.image.layer.v1.tar' (what `oras push` writes)
   */
  readonly fileMediaType?: string;
}

/**
 * Properties of a {@link TenantBundle}.
 */
export interface TenantBundleProps extends TenantBundleOptions {
  /** The tenant repository the bundle is pushed into. */
  readonly repository: ecr.IRepository;
}

/**
 * A file bundle in a tenant repository: packed at synth time into an OCI artifact in ORAS's layout
 * (`artifactType`, the empty config, one titled layer per file or one archive layer), uploaded as
 * a file asset, and pushed at deploy time by the `ImageSync` function under the tag, pinned to the
 * digest computed at synth. The same files always give the same digest.
 *
 * Create and Update push (a no-op when the tag already names the digest); Delete keeps the bundle.
 */
export class TenantBundle extends TenantArtifact {
  /** The manifest's `artifactType`. */
  public readonly artifactType: string;

  constructor(scope: Construct, id: string, props: TenantBundleProps) {
    super(scope, id);
    const p = new ValidationProblems('TenantBundle');
    const { directory, files } = props;
    const source = directory !== undefined ? 'directory' : 'files';
    if ((directory === undefined) === (files === undefined)) {
      p.add('directory', directory, 'exactly one of directory and files: a directory to bundle, or a list of files');
    }
    if (files !== undefined && (!Array.isArray(files) || files.length === 0)) {
      p.add('files', files, 'at least one file');
    }
    if (directory === undefined && props.archive) {
      p.add('archive', props.archive, 'only with directory: a list of files is bundled one layer per file');
    }
    if (directory === undefined && props.exclude !== undefined) {
      p.add('exclude', props.exclude, 'only with directory: leave the files out of the list instead');
    }
    if (typeof props.artifactType !== 'string' || !MEDIA_TYPE.test(props.artifactType)) {
      p.add('artifactType', props.artifactType, 'a media type (type/subtype), e.g. "application/vnd.acme.terraform.module.v1"');
    }
    if (props.fileMediaType !== undefined && !MEDIA_TYPE.test(props.fileMediaType)) {
      p.add('fileMediaType', props.fileMediaType, 'a media type (type/subtype), e.g. "application/vnd.oci.image.layer.v1.tar"');
    }
    if (typeof props.tag !== 'string' || isToken(props.tag)) {
      p.add('tag', props.tag, 'a literal tag: the bundle is packed at synth time, the tag with it');
    } else {
      checkImageTag(p, 'tag', props.tag);
    }
    checkArchiveSyncOptions(p, this, 'TenantBundle', props);

    let artifact: OciArtifact | undefined;
    if (p.isEmpty) {
      try {
        artifact = pack(props);
      } catch (err) {
        if (!(err instanceof BundleError)) throw err;
        p.add(source, props[source], `${source === 'directory' ? 'a directory' : 'files'} that can be bundled (${err.message})`);
      }
    }
    const archive = artifact ? writeOciArchive(artifact) : undefined;
    if (archive) {
      checkArchiveSize(p, source, props[source], archive, 'a bundle');
    }
    p.throwIfAny();

    this._push(props.repository, artifact!, archive!, props.tag, props);
    this.artifactType = props.artifactType;
  }
}

function pack(props: TenantBundleOptions): OciArtifact {
  const options = { artifactType: props.artifactType, tag: props.tag };
  if (props.directory !== undefined) {
    return bundleDirectory(props.directory, {
      ...options, layout: props.archive ? 'archive' : 'files', exclude: props.exclude, fileMediaType: props.fileMediaType,
    });
  }
  return bundleArtifact(props.files!.map(file => {
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch {
      throw new BundleError(`${file}: not a file that can be read`);
    }
    return { name: path.basename(file), data, mediaType: props.fileMediaType };
  }), options);
}
