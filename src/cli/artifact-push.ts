/**
 * What `chart` and `bundle` share: the destination and its credentials read from the words, the
 * push of a packed artifact with the check that the destination holds it after, and the report.
 */
import { ImageReference, formatImageReference, parseImageReference } from '../image-reference';
import { CopyError, CredentialSource, Redactor, RegistryCredentials, resolveDigest } from '../sync';
import { Io, UsageError } from './args';
import { Closeable, DESTINATION_SIDE, SideCredentials, parseCreds } from './credentials';
import { DockerConfig, defaultDockerConfigPath } from './docker-config';
import { reportFailure as writeFailure } from './failure';
import { PushArtifactResult, PushableArtifact, pushArtifact } from '../sync/push';

export interface PushTarget {
  readonly destination: ImageReference;
  readonly destinationCredentials?: RegistryCredentials;
  /** `--dest-creds` as given (CDK_BYOC_DEST_CREDS and the docker config are read after it). */
  readonly destCreds?: string;
  readonly json: boolean;
}

/**
 * The destination (an `oci://` prefix is fine) and its credentials (`--dest-creds`, else
 * CDK_BYOC_DEST_CREDS).
 *
 * @param tag `forbidden`: the tag comes from the artifact (a chart's version); `required`: the words name it
 * @throws UsageError naming what is wrong
 */
export function pushTarget(
  words: { dst: string; destCreds?: string; json: boolean }, env: NodeJS.ProcessEnv, tag: 'forbidden' | 'required', name = 'DST_REPO',
): PushTarget {
  const text = words.dst.replace(/^oci:\/\//, '');
  let destination: ImageReference;
  try {
    destination = parseImageReference(text);
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  if (destination.digest) {
    throw new UsageError(`${name} ${JSON.stringify(words.dst)} names a digest: the digest is the artifact's own; give ${tag === 'required' ? 'repository:tag' : 'the repository'}`);
  }
  if (tag === 'forbidden' && destination.tag) {
    throw new UsageError(`${name} ${JSON.stringify(words.dst)} names a tag: give the repository only; the tag is the chart version`);
  }
  if (tag === 'required' && !destination.tag) {
    throw new UsageError(`${name} ${JSON.stringify(words.dst)} names no tag: give repository:tag`);
  }
  const creds = words.destCreds ?? (env.CDK_BYOC_DEST_CREDS || undefined);
  return {
    destination,
    destinationCredentials: creds === undefined ? undefined : parseCreds(creds, '--dest-creds / CDK_BYOC_DEST_CREDS'),
    destCreds: words.destCreds,
    json: words.json,
  };
}

/** A redactor that knows the destination's credentials (and any other given). */
export function redactorFor(target: PushTarget, other?: RegistryCredentials): Redactor {
  const redactor = new Redactor();
  [target.destinationCredentials, other].forEach(c => c && redactor.addCredentials(c));
  return redactor;
}

/**
 * Pushes the artifact under the destination's tag (else the artifact's), checks that the
 * destination holds it, and prints `REPO@sha256:...` (or the result as JSON). Returns the exit status.
 */
export async function pushAndReport(artifact: PushableArtifact, target: PushTarget, io: Io, command: string): Promise<number> {
  const redactor = redactorFor(target);
  const clients: Closeable[] = [];
  // The same order as copy's: --dest-creds, CDK_BYOC_DEST_CREDS, the docker config, an ECR login.
  const side = new SideCredentials(DESTINATION_SIDE, target.destCreds, io.env,
    DockerConfig.load(defaultDockerConfigPath(io.env), false, io.env), clients);
  const credentials: CredentialSource = side.source(redactor);
  const dst = target.destination;
  try {
    const result: PushArtifactResult = await pushArtifact({
      artifact,
      destination: { ...dst, tag: dst.tag ?? artifact.tag },
      credentials,
      redactor,
      onProgress: e => {
        if (e.kind === 'retry' && e.message) {
          io.stderr.write(`${e.message}\n`);
        }
      },
    });
    const tagged = formatImageReference({ registry: dst.registry, repository: dst.repository, tag: result.tag });
    const held = await resolveDigest(tagged, credentials, { redactor });
    if (held !== result.digest) {
      io.stderr.write(redactor.text(`${command}: ${tagged} holds ${held ?? 'nothing'} after the push, expected ${result.digest}`) + '\n');
      return 1;
    }
    if (target.json) {
      io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      io.stdout.write(`${formatImageReference({ registry: dst.registry, repository: dst.repository, digest: result.digest })}\n`);
      io.stderr.write(result.alreadyPresent
        ? `already there: ${result.digest} under ${result.tag}, nothing pushed\n`
        : `pushed ${result.digest} as ${result.tag}: ${result.blobsPushed} blobs, ${result.bytesPushed} bytes; ${result.blobsSkipped} blobs already there\n`);
    }
    return 0;
  } catch (err) {
    const explained = err instanceof CopyError ? side.explain(err, dst.registry) : undefined;
    return reportFailure(explained ? new CopyError((err as CopyError).code, explained) : err, redactor, io, command, target.json);
  } finally {
    clients.forEach(c => c.destroy());
  }
}

/** Prints a failure (through the redactor; with `json` also on stdout) and returns exit status 1. */
export function reportFailure(err: unknown, redactor: Redactor, io: Io, command: string, json = false): number {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof CopyError ? err.code : 'FAILED';
  const shown = err instanceof CopyError ? ` [${err.code}]` : '';
  return writeFailure(io, json, { code, message: redactor.text(`${command}: failed${shown}: ${message}`), status: 1 });
}
