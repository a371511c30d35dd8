import { ECRClient } from '@aws-sdk/client-ecr';
import { formatImageReference, parseImageReference } from '../image-reference';
import { CredentialSource, RegistryCredentials } from './auth';
import { CopyProgressEvent, CopyResult, copyImage } from './copy';
import { ecrCredentialSource, parseEcrRegistry } from './ecr-auth';
import { CopyError } from './errors';
import { resolveDigest } from './manifests';

const USAGE = `Usage: cdk-byoc-artifacts copy SRC DST [--src-creds USER:PASS] [--dest-creds USER:PASS]
                                      [--platform OS/ARCH[/VARIANT]]... [--concurrency N] [--json]

Copies an image, index or OCI artifact from SRC to DST with the same digest.
References are host[:port]/repo[:tag][@digest]; DST's tag defaults to SRC's.
Loopback hosts (127.0.0.0/8, localhost, [::1]) use plain HTTP, every other host HTTPS.

Credentials: --src-creds/--dest-creds, or CDK_BYOC_SRC_CREDS/CDK_BYOC_DEST_CREDS (USER:PASS) to
keep them off the command line. ECR hosts without credentials log in with GetAuthorizationToken
through the default AWS credential chain. Otherwise anonymous.

Exit status: 0 when DST holds the image under the tag with the copied digest (checked after the
copy), 1 when the copy failed, 2 for usage errors.
`;

/** Where the command writes, and the environment it reads. */
export interface CopyCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

interface CopyArgs {
  source: string;
  destination: string;
  sourceCredentials?: RegistryCredentials;
  destinationCredentials?: RegistryCredentials;
  platforms: string[];
  concurrency?: number;
  json: boolean;
}

class UsageError extends Error {}

/** `cdk-byoc-artifacts copy ...`; argv are the words after `copy`. Returns the exit status. */
export async function copyCommand(argv: string[], io: CopyCommandIo): Promise<number> {
  let args: CopyArgs | 'help';
  try {
    args = parseArgs(argv, io.env);
  } catch (err) {
    io.stderr.write(`copy: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const a = args;
  const ecrClients: ECRClient[] = [];
  const sourceCredentials = credentialSource(a.sourceCredentials, ecrClients);
  const destinationCredentials = credentialSource(a.destinationCredentials, ecrClients);
  const progress = new ProgressDisplay(io.stderr);
  const secrets = [a.sourceCredentials?.password, a.destinationCredentials?.password].filter((s): s is string => !!s);
  try {
    const result = await copyImage({
      source: a.source,
      destination: a.destination,
      sourceCredentials,
      destinationCredentials,
      platforms: a.platforms,
      concurrency: a.concurrency,
      onProgress: e => progress.event(e),
    });
    progress.finish();
    if (!result.complete) {
      io.stderr.write('copy: stopped before the copy completed; run the command again to resume\n');
      return 1;
    }
    const dst = parseImageReference(a.destination);
    const target = formatImageReference({
      registry: dst.registry, repository: dst.repository, tag: result.tag, digest: result.tag ? undefined : result.digest,
    });
    const held = await resolveDigest(target, destinationCredentials);
    if (held !== result.digest) {
      io.stderr.write(`copy: ${target} holds ${held ?? 'nothing'} after the copy, expected ${result.digest}\n`);
      return 1;
    }
    if (a.json) {
      io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      io.stdout.write(`${formatImageReference({ registry: dst.registry, repository: dst.repository, digest: result.digest })}\n`);
      io.stderr.write(summary(result) + '\n');
    }
    return 0;
  } catch (err) {
    progress.finish();
    let message = err instanceof Error ? err.message : String(err);
    for (const secret of secrets) {
      message = message.split(secret).join('***');
    }
    const code = err instanceof CopyError ? ` [${err.code}]` : '';
    io.stderr.write(`copy: failed${code}: ${message}\n`);
    return err instanceof CopyError && err.code === 'INVALID' && !err.registry ? 2 : 1;
  } finally {
    ecrClients.forEach(c => c.destroy());
  }
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): CopyArgs | 'help' {
  const positional: string[] = [];
  const platforms: string[] = [];
  let srcCreds: string | undefined = env.CDK_BYOC_SRC_CREDS || undefined;
  let destCreds: string | undefined = env.CDK_BYOC_DEST_CREDS || undefined;
  let concurrency: number | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    const value = (): string => {
      if (eq > 0) {
        return word.slice(eq + 1);
      }
      const next = argv[++i];
      if (next === undefined) {
        throw new UsageError(`${name} needs a value`);
      }
      return next;
    };
    switch (name) {
      case '-h':
      case '--help':
        return 'help';
      case '--src-creds':
        srcCreds = value();
        break;
      case '--dest-creds':
        destCreds = value();
        break;
      case '--platform':
        platforms.push(value());
        break;
      case '--concurrency': {
        const text = value();
        concurrency = Number(text);
        if (!/^[0-9]+$/.test(text) || concurrency < 1 || concurrency > 64) {
          throw new UsageError(`--concurrency ${JSON.stringify(text)} is not allowed: an integer from 1 to 64`);
        }
        break;
      }
      case '--json':
        json = true;
        break;
      default:
        if (word.startsWith('-') && word !== '-') {
          throw new UsageError(`unknown option ${JSON.stringify(name)}`);
        }
        positional.push(word);
    }
  }
  if (positional.length !== 2) {
    throw new UsageError(positional.length < 2 ? 'SRC and DST are required' : `expected SRC and DST, got ${positional.length} references`);
  }
  for (const [which, ref] of [['SRC', positional[0]], ['DST', positional[1]]]) {
    try {
      const parsed = parseImageReference(ref);
      if (which === 'DST' && parsed.digest) {
        throw new Error(`${JSON.stringify(ref)} names a digest: the destination keeps the source's digest, give a tag or none`);
      }
    } catch (err) {
      throw new UsageError(`${which}: ${(err as Error).message}`);
    }
  }
  for (const p of platforms) {
    if (!/^[a-z0-9_.-]+\/[a-z0-9_.-]+(\/[a-z0-9_.-]+)?$/i.test(p)) {
      throw new UsageError(`--platform ${JSON.stringify(p)} is not os/arch[/variant], e.g. linux/amd64`);
    }
  }
  return {
    source: positional[0],
    destination: positional[1],
    sourceCredentials: srcCreds === undefined ? undefined : parseCreds(srcCreds, '--src-creds / CDK_BYOC_SRC_CREDS'),
    destinationCredentials: destCreds === undefined ? undefined : parseCreds(destCreds, '--dest-creds / CDK_BYOC_DEST_CREDS'),
    platforms,
    concurrency,
    json,
  };
}

function parseCreds(text: string, where: string): RegistryCredentials {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    // Never echo the value: it may be a password typed in the wrong place.
    throw new UsageError(`${where} must be USER:PASS`);
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Explicit credentials, else ECR login through the default AWS credential chain for ECR hosts, else anonymous. */
function credentialSource(explicit: RegistryCredentials | undefined, clients: ECRClient[]): CredentialSource {
  if (explicit) {
    return async () => explicit;
  }
  const perRegion = new Map<string, CredentialSource>();
  return async (registry: string) => {
    const ecr = parseEcrRegistry(registry);
    if (!ecr) {
      return undefined;
    }
    let source = perRegion.get(ecr.region);
    if (!source) {
      const client = new ECRClient({ region: ecr.region });
      clients.push(client);
      source = ecrCredentialSource(client);
      perRegion.set(ecr.region, source);
    }
    return source(registry);
  };
}

function summary(r: CopyResult): string {
  if (r.alreadyPresent) {
    return `already there: ${r.digest}${r.tag ? ` under ${r.tag}` : ''}, nothing copied`;
  }
  const platforms = r.platforms.length > 0 ? ` (${r.platforms.join(', ')})` : '';
  return `copied ${r.digest}${platforms}: ${r.blobsCopied} blobs, ${formatBytes(r.bytesCopied)}; ${r.blobsSkipped} blobs already there`
    + `${r.blobsMounted ? `, ${r.blobsMounted} mounted` : ''}; ${r.manifestsCopied} manifests written`;
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Progress on stderr: one line rewritten in place on a terminal, a line every few seconds (and
 * for every retry) otherwise, so logs of long copies stay readable.
 */
class ProgressDisplay {
  private readonly tty: boolean;
  private readonly started = Date.now();
  private readonly inFlight = new Map<string, number>();
  private bytesDone = 0;
  private blobsDone = 0;
  private blobsSkipped = 0;
  private lastLine = 0;
  private drawn = false;

  constructor(private readonly out: NodeJS.WritableStream) {
    this.tty = (out as { isTTY?: boolean }).isTTY === true;
  }

  public event(e: CopyProgressEvent): void {
    switch (e.kind) {
      case 'blob-start':
        this.inFlight.set(e.digest!, 0);
        break;
      case 'blob-progress':
        this.inFlight.set(e.digest!, e.bytes ?? 0);
        break;
      case 'blob-done':
        this.inFlight.delete(e.digest!);
        this.bytesDone += e.bytes ?? 0;
        this.blobsDone++;
        break;
      case 'blob-skipped':
        this.blobsSkipped++;
        break;
      case 'retry':
        this.line(`retry: ${e.message ?? ''}`, true);
        return;
      case 'tag':
        this.line(`tag: ${e.message ?? ''}`, true);
        return;
      default:
        break;
    }
    this.tick();
  }

  public finish(): void {
    if (this.tty && this.drawn) {
      this.out.write('\r\x1b[K');
      this.drawn = false;
    }
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastLine < (this.tty ? 100 : 5000)) {
      return;
    }
    this.lastLine = now;
    let bytes = this.bytesDone;
    this.inFlight.forEach(b => {
      bytes += b;
    });
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    this.line(`${this.blobsDone} blobs copied, ${this.blobsSkipped} skipped, ${this.inFlight.size} in flight; `
      + `${formatBytes(bytes)} at ${formatBytes(bytes / seconds)}/s`, false);
  }

  private line(text: string, always: boolean): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${text.slice(0, 200)}`);
      this.drawn = true;
      if (always) {
        this.out.write('\n');
        this.drawn = false;
      }
    } else {
      this.out.write(`${text}\n`);
    }
  }
}
