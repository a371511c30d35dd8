/**
 * File bundles (a Terraform module, configuration, any files) as OCI artifacts in the layout ORAS
 * writes (`oras push --artifact-type`): the OCI 1.1 empty config, `artifactType` on the manifest,
 * and either one layer per file titled with its path, or the directory as one tar+gzip layer
 * that `oras pull` unpacks. Fixed modes and times, files in walk order: the same files give the
 * same digest.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { normalizeCreated } from './chart';
import { HelmIgnore } from './helmignore';
import {
  ANNOTATION_CREATED, ANNOTATION_TITLE, FIXED_CREATED, OCI_EMPTY_CONFIG, OCI_MANIFEST, OciArtifact, OciDescriptor, TAG_PATTERN, artifactOf,
  descriptor, goJson, sortedMap,
} from './oci';
import { gzip, writeTar } from './tar';
import { walkFiles } from './walk';

/** ORAS's media type for a file layer when none is given. */
export const ORAS_FILE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
/** The media type of a directory packed as one layer. */
export const ORAS_ARCHIVE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** ORAS's annotations on a directory layer: unpack it on pull, and the digest of the tar inside. */
export const ORAS_UNPACK = 'io.deis.oras.content.unpack';
export const ORAS_CONTENT_DIGEST = 'io.deis.oras.content.digest';

const EMPTY_CONFIG = Buffer.from('{}');
const MAX_BUNDLE_FILE_SIZE = 1024 * 1024 * 1024;
const MAX_BUNDLE_SIZE = 4 * 1024 * 1024 * 1024;
/** `type/subtype` (RFC 6838). */
export const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** A bundle that cannot be built as asked. */
export class BundleError extends Error {}

export interface BundleFile {
  /** The file's name in the bundle (its title), relative and `/`-separated. */
  readonly name: string;
  readonly data: Buffer;
  /** @default ORAS_FILE_MEDIA_TYPE */
  readonly mediaType?: string;
}

export interface BundleOptions {
  /** The manifest's `artifactType`, e.g. `application/vnd.acme.terraform.module.v1`. */
  readonly artifactType: string;
  /** The tag it is pushed under. */
  readonly tag: string;
  /** The `org.opencontainers.image.created` annotation. @default FIXED_CREATED */
  readonly created?: string;
  /** More manifest annotations. */
  readonly annotations?: { readonly [key: string]: string };
}

export interface BundleDirectoryOptions extends BundleOptions {
  /** `files`: one layer per file (the default); `archive`: the directory as one tar+gzip layer. */
  readonly layout?: 'files' | 'archive';
  /** Patterns left out, in `.helmignore` syntax (e.g. `.terraform/`, `*.tfstate`). */
  readonly exclude?: readonly string[];
  /** The media type of each file layer (layout `files`). @default ORAS_FILE_MEDIA_TYPE */
  readonly fileMediaType?: string;
}

/**
 * A bundle of files, one layer per file (in the order given), each titled with its name.
 *
 * @throws BundleError for an invalid artifact type, tag, name or duplicate
 */
export function bundleArtifact(files: readonly BundleFile[], options: BundleOptions): OciArtifact {
  checkOptions(options);
  if (files.length === 0) {
    throw new BundleError('a bundle needs at least one file');
  }
  const seen = new Set<string>();
  const layers: OciDescriptor[] = [];
  for (const f of files) {
    checkName(f.name);
    if (seen.has(f.name)) {
      throw new BundleError(`file ${JSON.stringify(f.name)} is in the bundle twice`);
    }
    seen.add(f.name);
    const mediaType = f.mediaType ?? ORAS_FILE_MEDIA_TYPE;
    if (!MEDIA_TYPE.test(mediaType)) {
      throw new BundleError(`mediaType ${JSON.stringify(mediaType)} of ${f.name} is not a media type (type/subtype)`);
    }
    layers.push(descriptor(mediaType, f.data, { [ANNOTATION_TITLE]: f.name }));
  }
  return pack(options, layers, files.map(f => f.data));
}

/**
 * A directory as a bundle: its files (symbolic links followed, `exclude` left out) as layers,
 * or the directory as one tar+gzip layer titled with its name.
 *
 * @throws BundleError naming the file or option at fault
 */
export function bundleDirectory(dir: string, options: BundleDirectoryOptions): OciArtifact {
  checkOptions(options);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new BundleError(`${dir}: no such directory`);
  }
  let rules: HelmIgnore;
  try {
    rules = HelmIgnore.rules((options.exclude ?? []).join('\n'));
  } catch (err) {
    throw new BundleError(`exclude: ${(err as Error).message.replace(/^\.helmignore /, '')}`);
  }
  const walked = walkFiles(dir, {
    ignores: (relative, isDirectory) => rules.ignores(relative, isDirectory),
    maxFileSize: MAX_BUNDLE_FILE_SIZE,
    maxTotalSize: MAX_BUNDLE_SIZE,
    hint: 'leave it out with exclude',
    error: message => new BundleError(message),
  });
  if (walked.length === 0) {
    throw new BundleError(`${dir}: no files to bundle`);
  }
  if ((options.layout ?? 'files') === 'files') {
    return bundleArtifact(walked.map(f => ({ name: f.relative, data: fs.readFileSync(f.absolute), mediaType: options.fileMediaType })), options);
  }
  const name = path.basename(path.resolve(dir));
  const tar = writeTar(walked.map(f => ({ name: `${name}/${f.relative}`, data: fs.readFileSync(f.absolute) })));
  const layer = gzip(tar);
  const tarDigest = 'sha256:' + crypto.createHash('sha256').update(tar).digest('hex');
  return pack(options, [descriptor(ORAS_ARCHIVE_MEDIA_TYPE, layer, sortedMap({
    [ORAS_CONTENT_DIGEST]: tarDigest,
    [ORAS_UNPACK]: 'true',
    [ANNOTATION_TITLE]: name,
  }))], [layer]);
}

function pack(options: BundleOptions, layers: OciDescriptor[], blobs: Buffer[]): OciArtifact {
  const config = descriptor(OCI_EMPTY_CONFIG, EMPTY_CONFIG);
  // Field order of Go's ocispec.Manifest and Descriptor, as oras marshals them.
  const manifest = goJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: options.artifactType,
    config: { ...config, data: EMPTY_CONFIG.toString('base64') },
    layers,
    annotations: sortedMap({ ...options.annotations, [ANNOTATION_CREATED]: created(options.created) }),
  });
  return artifactOf(manifest, [EMPTY_CONFIG, ...blobs], options.tag);
}

/** An RFC 3339 time as ORAS writes it (UTC, whole seconds); the fixed time by default. */
function created(text: string | undefined): string {
  try {
    return normalizeCreated(text ?? FIXED_CREATED);
  } catch (err) {
    throw new BundleError((err as Error).message);
  }
}

function checkOptions(options: BundleOptions): void {
  const problems: string[] = [];
  if (!MEDIA_TYPE.test(options.artifactType)) {
    problems.push(`artifactType ${JSON.stringify(options.artifactType)} is not allowed: a media type such as application/vnd.acme.module.v1`);
  }
  if (!TAG_PATTERN.test(options.tag)) {
    problems.push(`tag ${JSON.stringify(options.tag)} is not allowed: letters, digits, _ . - (not first), at most 128`);
  }
  if (problems.length > 0) {
    throw new BundleError(problems.join('; '));
  }
}

function checkName(name: string): void {
  if (name === '' || name.startsWith('/') || name.split('/').some(p => p === '..' || p === '.' || p === '') || name.includes('\\')) {
    throw new BundleError(`file name ${JSON.stringify(name)} is not allowed: a relative /-separated path without . or .. parts`);
  }
}
