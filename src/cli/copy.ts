import * as fs from 'fs';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ImageReference, formatImageReference, parseImageReference } from '../image-reference';
import { platformProblem } from '../platform';
import { parseEcrRegistry } from '../private/ecr-names';
import {
  CopyError, CredentialSource, Redactor, RegistryCredentials, copyImage, ecrCredentialSource, parseTrustedKey, resolveDigest,
} from '../sync';
import { Io, UsageError, lastValue, parseArgs } from './args';
import { ProgressDisplay, summary } from './progress';

const USAGE = `Usage: cdk-byoc-artifacts copy SRC DST [--src-creds USER:PASS] [--dest-creds USER:PASS]
                                      [--platform OS/ARCH[/VARIANT]]... [--concurrency N] [--json]
                                      [--referrers] [--verify-key FILE]...

Copies an image, index or OCI artifact from SRC to DST with the same digest.
References are host[:port]/repo[:tag][@digest]; DST's tag defaults to SRC's.
Loopback hosts (127.0.0.0/8, localhost, [::1]) use plain HTTP, every other host HTTPS.
Credentials go to the registry's own origin only: a redirect, token realm or upload location
elsewhere never gets them, never steps down to plain HTTP, and from a registry that is not on
loopback never reaches a loopback or link-local address.

Credentials: --src-creds/--dest-creds, or CDK_BYOC_SRC_CREDS/CDK_BYOC_DEST_CREDS (USER:PASS) to
keep them off the command line. ECR hosts without credentials log in with GetAuthorizationToken
through the default AWS credential chain. Otherwise anonymous.

--referrers also copies the image's referrers (signatures, SBOMs, attestations) before DST's
tag moves: the OCI 1.1 referrers API, else the referrers tag schema (sha256-<hex>) and cosign's
sha256-<hex>.sig|.att|.sbom tags, written in the form DST supports.

--verify-key FILE (repeatable) names a PEM public key (cosign.pub; an AWS KMS key's public key):
nothing is written to DST unless a cosign signature of SRC's digest verifies with one of them.

Exit status: 0 when DST holds the image under the tag with the copied digest (checked after the
copy), 1 when the copy failed, 2 for usage errors.
`;

interface CopyArgs {
  source: ImageReference;
  destination: ImageReference;
  sourceCredentials?: RegistryCredentials;
  destinationCredentials?: RegistryCredentials;
  platforms: string[];
  concurrency?: number;
  json: boolean;
  referrers: boolean;
  verifyKeys: string[];
}

/** `cdk-byoc-artifacts copy ...`; argv are the words after `copy`. Returns the exit status. */
export async function copyCommand(argv: string[], io: Io): Promise<number> {
  let args: CopyArgs | 'help';
  try {
    args = copyArgs(argv, io.env);
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
  // Everything this command writes about the copy passes the engine's redactor: it knows the
  // credentials given here and every token the copy fetches, and strips control characters.
  const redactor = new Redactor();
  [a.sourceCredentials, a.destinationCredentials].forEach(c => c && redactor.addCredentials(c));
  const progress = new ProgressDisplay(io.stderr, redactor);
  try {
    const result = await copyImage({
      source: a.source,
      destination: a.destination,
      sourceCredentials,
      destinationCredentials,
      platforms: a.platforms,
      concurrency: a.concurrency,
      referrers: a.referrers,
      verifyKeys: a.verifyKeys,
      onProgress: e => progress.event(e),
      redactor,
    });
    progress.finish();
    if (!result.complete) {
      io.stderr.write('copy: stopped before the copy completed; run the command again to resume\n');
      return 1;
    }
    const dst = a.destination;
    const target = formatImageReference({
      registry: dst.registry, repository: dst.repository, tag: result.tag, digest: result.tag ? undefined : result.digest,
    });
    const held = await resolveDigest(target, destinationCredentials, { redactor });
    if (held !== result.digest) {
      io.stderr.write(redactor.text(`copy: ${target} holds ${held ?? 'nothing'} after the copy, expected ${result.digest}`) + '\n');
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
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof CopyError ? ` [${err.code}]` : '';
    io.stderr.write(`${redactor.text(`copy: failed${code}: ${message}`)}\n`);
    return err instanceof CopyError && err.code === 'INVALID' && !err.registry ? 2 : 1;
  } finally {
    ecrClients.forEach(c => c.destroy());
  }
}

function copyArgs(argv: string[], env: NodeJS.ProcessEnv): CopyArgs | 'help' {
  const args = parseArgs(argv, { values: ['--src-creds', '--dest-creds', '--platform', '--concurrency', '--verify-key'], flags: ['--json', '--referrers'] });
  if (args === 'help') {
    return 'help';
  }
  const srcCreds = lastValue(args, '--src-creds') ?? (env.CDK_BYOC_SRC_CREDS || undefined);
  const destCreds = lastValue(args, '--dest-creds') ?? (env.CDK_BYOC_DEST_CREDS || undefined);
  const platforms = args.values.get('--platform') ?? [];
  let concurrency: number | undefined;
  for (const text of args.values.get('--concurrency') ?? []) {
    concurrency = Number(text);
    if (!/^[0-9]+$/.test(text) || concurrency < 1 || concurrency > 64) {
      throw new UsageError(`--concurrency ${JSON.stringify(text)} is not allowed: an integer from 1 to 64`);
    }
  }
  const positional = args.positional;
  if (positional.length !== 2) {
    throw new UsageError(positional.length < 2 ? 'SRC and DST are required' : `expected SRC and DST, got ${positional.length} references`);
  }
  const [source, destination] = [['SRC', positional[0]], ['DST', positional[1]]].map(([which, ref]) => {
    try {
      const parsed = parseImageReference(ref);
      if (which === 'DST' && parsed.digest) {
        throw new Error(`${JSON.stringify(ref)} names a digest: the destination keeps the source's digest, give a tag or none`);
      }
      return parsed;
    } catch (err) {
      throw new UsageError(`${which}: ${(err as Error).message}`);
    }
  });
  for (const p of platforms) {
    if (platformProblem(p)) {
      throw new UsageError(`--platform ${JSON.stringify(p)} is not os/arch[/variant], e.g. linux/amd64`);
    }
  }
  return {
    source,
    destination,
    sourceCredentials: srcCreds === undefined ? undefined : parseCreds(srcCreds, '--src-creds / CDK_BYOC_SRC_CREDS'),
    destinationCredentials: destCreds === undefined ? undefined : parseCreds(destCreds, '--dest-creds / CDK_BYOC_DEST_CREDS'),
    platforms,
    concurrency,
    json: args.flags.has('--json'),
    referrers: args.flags.has('--referrers'),
    verifyKeys: (args.values.get('--verify-key') ?? []).map(readVerifyKey),
  };
}

function readVerifyKey(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--verify-key ${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const key = parseTrustedKey(pem);
  if (typeof key === 'string') {
    throw new UsageError(`--verify-key ${JSON.stringify(file)} ${key}`);
  }
  return pem;
}

export function parseCreds(text: string, where: string): RegistryCredentials {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    // Never echo the value: it may be a password typed in the wrong place.
    throw new UsageError(`${where} must be USER:PASS`);
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Explicit credentials, else ECR login through the default AWS credential chain for ECR hosts, else anonymous. */
export function credentialSource(explicit: RegistryCredentials | undefined, clients: ECRClient[]): CredentialSource {
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
      source = ecrCredentialSource(async () => (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]);
      perRegion.set(ecr.region, source);
    }
    return source(registry);
  };
}
