import * as fs from 'fs';
import { ImageReference, formatImageReference } from '../image-reference';
import { platformProblem } from '../platform';
import { SigstoreIdentity, identityProblem, trustedRootProblem } from '../private/sigstore-policy';
import { CopyError, Redactor, copyImage, parseTrustedKey, resolveDigest } from '../sync';
import { Io, UsageError, lastValue, parseArgs } from './args';
import { Closeable, DESTINATION_SIDE, SOURCE_SIDE, SideCredentials } from './credentials';
import { DockerConfig, defaultDockerConfigPath } from './docker-config';
import { CommandFailure, reportFailure } from './failure';
import { ProgressDisplay, indexReferrersLine, summary } from './progress';
import { parseCliReference } from './reference';
import { loadBundleVerifier } from './side-bundle';
import { TLS_OPTIONS, TlsSettings, normalizeTlsWords, readTlsSettings } from './tls';

const USAGE = `Usage: cdk-byoc-artifacts copy SRC DST [--src-creds USER:PASS] [--dest-creds USER:PASS] [--authfile FILE]
                                      [--src-cert-dir DIR] [--dest-cert-dir DIR]
                                      [--src-tls-verify=false] [--dest-tls-verify=false]
                                      [--platform OS/ARCH[/VARIANT]]... [--concurrency N]
                                      [--referrers] [--verify-key FILE]...
                                      [--verify-issuer URL (--verify-identity SUBJECT | --verify-identity-regexp RE)...]
                                      [--verify-trusted-root FILE] [--no-clobber] [--json]

Copies an image, index or OCI artifact from SRC to DST with the same digest.
References are [docker://]host[:port]/repo[:tag][@digest]; DST's tag defaults to SRC's.
Docker Hub names read as docker reads them: nginx is docker.io/library/nginx:latest,
user/app is docker.io/user/app.
Loopback hosts (127.0.0.0/8, localhost, [::1]) use plain HTTP, every other host HTTPS;
--src-cert-dir/--dest-cert-dir trust the CA certificates (*.crt, *.pem) in DIR and speak HTTPS,
loopback included. --src-tls-verify=false/--dest-tls-verify=false accept any certificate;
--src-tls-verify/--dest-tls-verify (=true) require HTTPS with a verified certificate.
Credentials go to the registry's own origin only: a redirect, token realm or upload location
elsewhere never gets them, never steps down to plain HTTP, and from a registry that is not on
loopback never reaches a loopback or link-local address.

Credentials, first found wins: --src-creds/--dest-creds; CDK_BYOC_SRC_CREDS/CDK_BYOC_DEST_CREDS
(USER:PASS, to keep them off the command line); the docker config (--authfile FILE, default
$DOCKER_CONFIG/config.json, then ~/.docker/config.json: auths, credHelpers, credsStore); for
ECR hosts, GetAuthorizationToken through the default AWS credential chain. Otherwise anonymous.

--referrers also copies the image's referrers (signatures, SBOMs, attestations): the OCI 1.1
referrers API, else the referrers tag schema and cosign's sha256-<hex>.sig|.att|.sbom tags.
--verify-key FILE (repeatable, PEM public key): DST's tag is written only when a cosign signature
of the source digest verifies with one of the keys; otherwise nothing is written and the exit is 1.
--verify-issuer URL with --verify-identity SUBJECT or --verify-identity-regexp RE (repeatable,
the regular expression must match the whole subject): a Sigstore bundle (cosign v3's default,
keyless) attached to the source digest counts when its certificate was issued for that OIDC issuer
and subject, it verifies against the Sigstore public-good trusted root pinned in this package (or
--verify-trusted-root FILE, a trusted_root.json) and it signs the digest. With keys and identities,
any one signature that satisfies the policy suffices.

A DST tag that holds another digest is moved and the move reported; --no-clobber refuses instead.
--json prints the result, or {"error":{"code","message"}} on failure, on stdout.

Exit status: 0 when DST holds the image under the tag with the copied digest (checked after the
copy, or found there before it), 1 when the copy failed, 2 for usage errors.
`;

interface CopyArgs {
  source: ImageReference;
  destination: ImageReference;
  sourceCredentials: SideCredentials;
  destinationCredentials: SideCredentials;
  tls: TlsSettings;
  platforms: string[];
  concurrency?: number;
  noClobber: boolean;
  referrers: boolean;
  verifyKeys: string[];
  verifyIdentities: SigstoreIdentity[];
  trustedRoot?: string;
  json: boolean;
}

/** `cdk-byoc-artifacts copy ...`; argv are the words after `copy`. Returns the exit status. */
export async function copyCommand(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  const clients: Closeable[] = [];
  let args: CopyArgs | 'help';
  try {
    args = copyArgs(normalizeTlsWords(argv), io.env, clients);
  } catch (err) {
    if (err instanceof UsageError) {
      return reportFailure(io, json, { code: 'USAGE', message: `copy: ${err.message}`, status: 2, usage: USAGE });
    }
    return reportFailure(io, json, { code: 'CONFIG', message: `copy: ${(err as Error).message}`, status: 1 });
  }
  if (args === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const a = args;
  // Everything this command writes about the copy passes the engine's redactor: it knows the
  // credentials given here and every token the copy fetches, and strips control characters.
  const redactor = new Redactor();
  [a.sourceCredentials.known, a.destinationCredentials.known].forEach(c => c && redactor.addCredentials(c));
  const sourceCredentials = a.sourceCredentials.source(redactor);
  const destinationCredentials = a.destinationCredentials.source(redactor);
  const progress = new ProgressDisplay(io.stderr, redactor);
  try {
    const result = await copyImage({
      source: a.source,
      destination: a.destination,
      sourceCredentials,
      destinationCredentials,
      platforms: a.platforms,
      concurrency: a.concurrency,
      noClobber: a.noClobber,
      referrers: a.referrers,
      verifyKeys: a.verifyKeys,
      verifyIdentities: a.verifyIdentities,
      trustedRoot: a.trustedRoot,
      bundleVerifier: loadBundleVerifier,
      ...a.tls.routes,
      onProgress: e => progress.event(e),
      redactor,
    });
    progress.finish();
    if (!result.complete) {
      return reportFailure(io, a.json, { code: 'INCOMPLETE', message: 'copy: stopped before the copy completed; run the command again to resume', status: 1 });
    }
    const dst = a.destination;
    const target = formatImageReference({
      registry: dst.registry, repository: dst.repository, tag: result.tag, digest: result.tag ? undefined : result.digest,
    });
    // A copy that found the image already there has just read the tag: asking again tells nothing new.
    const held = result.alreadyPresent ? result.digest : await resolveDigest(target, destinationCredentials, { redactor, ...a.tls.routes });
    if (held !== result.digest) {
      return reportFailure(io, a.json, {
        code: 'VERIFY', message: redactor.text(`copy: ${target} holds ${held ?? 'nothing'} after the copy, expected ${result.digest}`), status: 1,
      });
    }
    if (result.replacedDigest) {
      io.stderr.write(`moved ${target} from ${result.replacedDigest} to ${result.digest}\n`);
    }
    // The summary goes to stderr with --json too: stdout holds the JSON alone.
    io.stderr.write(summary(result, progress.elapsedSeconds) + '\n');
    const leftBehind = indexReferrersLine(result);
    if (leftBehind) {
      io.stderr.write(redactor.text(leftBehind) + '\n');
    }
    io.stdout.write(a.json
      ? JSON.stringify(result, null, 2) + '\n'
      : `${formatImageReference({ registry: dst.registry, repository: dst.repository, digest: result.digest })}\n`);
    return 0;
  } catch (err) {
    progress.finish();
    return reportFailure(io, a.json, copyFailure(err, a, redactor));
  } finally {
    clients.forEach(c => c.destroy());
  }
}

/** A failed copy in the command's words: which side, and what to do about a refusal. */
function copyFailure(err: unknown, a: CopyArgs, redactor: Redactor): CommandFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof CopyError)) {
    return { code: 'FAILED', message: redactor.text(`copy: failed: ${message}`), status: 1 };
  }
  const explained = a.destinationCredentials.explain(err, a.destination.registry) ?? a.sourceCredentials.explain(err, a.source.registry)
    ?? certificateAdvice(err, a);
  return {
    code: err.code,
    message: redactor.text(`copy: failed [${err.code}]: ${explained ?? message}`),
    status: err.code === 'INVALID' && !err.registry ? 2 : 1,
  };
}

/** A certificate the copy could not verify: say which option trusts its CA. */
function certificateAdvice(err: CopyError, a: CopyArgs): string | undefined {
  if (err.code !== 'NETWORK' || !/certificate|CERT_|UNABLE_TO_VERIFY/i.test(err.message)) {
    return undefined;
  }
  const side = err.registry === a.destination.registry ? 'dest' : 'src';
  return `${err.message}; trust the registry's CA with --${side}-cert-dir DIR (a directory of *.crt files)`;
}

function copyArgs(argv: string[], env: NodeJS.ProcessEnv, clients: Closeable[]): CopyArgs | 'help' {
  const args = parseArgs(argv, {
    values: [
      '--src-creds', '--dest-creds', '--platform', '--concurrency', '--authfile', '--verify-key',
      '--verify-issuer', '--verify-identity', '--verify-identity-regexp', '--verify-trusted-root', ...TLS_OPTIONS,
    ],
    flags: ['--json', '--no-clobber', '--referrers'],
  });
  if (args === 'help') {
    return 'help';
  }
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
      const parsed = parseCliReference(ref);
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
  const tls = readTlsSettings(args, source.registry, destination.registry);
  const authfile = lastValue(args, '--authfile');
  const docker = DockerConfig.load(authfile ?? defaultDockerConfigPath(env), authfile !== undefined, env);
  return {
    source,
    destination,
    sourceCredentials: new SideCredentials(SOURCE_SIDE, lastValue(args, '--src-creds'), env, docker, clients),
    destinationCredentials: new SideCredentials(DESTINATION_SIDE, lastValue(args, '--dest-creds'), env, docker, clients),
    tls,
    platforms,
    concurrency,
    noClobber: args.flags.has('--no-clobber'),
    referrers: args.flags.has('--referrers'),
    verifyKeys: (args.values.get('--verify-key') ?? []).map(readVerifyKey),
    verifyIdentities: readIdentities(lastValue(args, '--verify-issuer'), args.values.get('--verify-identity') ?? [], args.values.get('--verify-identity-regexp') ?? []),
    trustedRoot: readTrustedRoot(lastValue(args, '--verify-trusted-root')),
    json: args.flags.has('--json'),
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

function readIdentities(issuer: string | undefined, subjects: string[], patterns: string[]): SigstoreIdentity[] {
  if (issuer === undefined && subjects.length + patterns.length > 0) {
    throw new UsageError('--verify-identity and --verify-identity-regexp need --verify-issuer URL (the OIDC issuer)');
  }
  if (issuer !== undefined && subjects.length + patterns.length === 0) {
    throw new UsageError('--verify-issuer needs --verify-identity SUBJECT or --verify-identity-regexp RE');
  }
  const identities = [
    ...subjects.map(subject => ({ issuer: issuer!, subject })),
    ...patterns.map(subjectPattern => ({ issuer: issuer!, subjectPattern })),
  ];
  for (const identity of identities) {
    const problem = identityProblem(identity);
    if (problem) {
      throw new UsageError(`--verify-issuer/--verify-identity: ${problem}`);
    }
  }
  return identities;
}

function readTrustedRoot(file: string | undefined): string | undefined {
  if (file === undefined) {
    return undefined;
  }
  let json: string;
  try {
    json = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--verify-trusted-root ${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const problem = trustedRootProblem(json);
  if (problem) {
    throw new UsageError(`--verify-trusted-root ${JSON.stringify(file)} ${problem}`);
  }
  return json;
}
