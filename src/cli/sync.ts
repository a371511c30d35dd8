import { ImageReference, formatImageReference } from '../image-reference';
import { CopyError, CredentialSource, HttpPool, ManifestRequestOptions, Redactor, copyImage, inspectManifest, listTags } from '../sync';
import { Io, UsageError, lastValue, parseArgs } from './args';
import { Closeable, SideCredentials, parseCreds } from './credentials';
import { DockerConfig, FoundCredentials, defaultDockerConfigPath } from './docker-config';
import { reportFailure } from './failure';
import { formatBytes, formatSeconds } from './progress';
import { loadSideBundle } from './side-bundle';
import { SyncConfig, SyncEntry, loadSyncConfig } from './sync-config';
import { TlsSettings, tlsSettings } from './tls';
import { mapLimit } from '../sync/concurrency';

const USAGE = `Usage: cdk-byoc-artifacts sync CONFIG [--dry-run] [--authfile FILE] [--json]

Copies many images, or the tags of whole repositories, as one CONFIG file (YAML or JSON) lists
them. Connections and credentials are shared by every copy. --dry-run prints the plan (what
would be copied, what is already there, which tags would move) and changes nothing.

  defaults:                      # for every entry (all optional)
    platforms: [linux/amd64]
    noClobber: true              # never move a destination tag to another digest
    concurrency: 6               # parallel blobs per image
    parallelImages: 2            # images at a time
  registries:                    # how each registry is reached (all optional)
    ghcr.io:
      credentialsEnv: GHCR_CREDS # USER:PASS in this environment variable
    127.0.0.1:5443:
      certDir: ./certs           # trust *.crt/*.pem in it and speak HTTPS
      tlsVerify: false
  images:
    - source: ghcr.io/org/app:v1.2.3            # one image
      destination: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/vendor/app
    - source: ghcr.io/org/worker                # a repository: tags by list
      destination: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/vendor/worker
      tags: [v1.2.3, v1.2.4]
    - source: docker.io/library/nginx           # or by pattern (a regular expression)
      destination: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/nginx
      tagPattern: '^1\\.27\\.[0-9]+$'

Credentials, first found wins: a registry's credentialsEnv; the docker config (--authfile FILE,
default $DOCKER_CONFIG/config.json, then ~/.docker/config.json); for ECR hosts an ECR login
through the default AWS credential chain. Otherwise anonymous.

Prints a line per image and a summary on stderr; with --json, the results on stdout.
Exit status: 0 when every image was copied or already there, 1 when any failed (each failure is
named), 2 for usage errors.
`;

/** One image of the plan. */
interface SyncJob {
  readonly source: ImageReference;
  readonly destination: ImageReference;
  readonly entry: SyncEntry;
}

/** What became of one image (or of an entry whose tags could not be listed). */
interface SyncOutcome {
  readonly source: string;
  readonly destination: string;
  readonly status: 'copied' | 'unchanged' | 'failed' | 'would copy' | 'would move' | 'refused';
  readonly digest?: string;
  /** The digest a moved destination tag held before. */
  readonly replacedDigest?: string;
  readonly bytesCopied?: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/** `cdk-byoc-artifacts sync ...`; argv are the words after `sync`. Returns the exit status. */
export async function syncCommand(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  let args;
  try {
    args = parseArgs(argv, { values: ['--authfile'], flags: ['--dry-run', '--json'] });
    if (args !== 'help' && args.positional.length !== 1) {
      throw new UsageError(args.positional.length === 0 ? 'CONFIG is required' : `expected one CONFIG, got ${args.positional.length}`);
    }
  } catch (err) {
    return reportFailure(io, json, { code: 'USAGE', message: `sync: ${(err as Error).message}`, status: 2, usage: USAGE });
  }
  if (args === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const clients: Closeable[] = [];
  let setup: Setup;
  try {
    setup = prepare(args.positional[0], lastValue(args, '--authfile'), io.env, clients);
  } catch (err) {
    return reportFailure(io, json, { code: 'CONFIG', message: `sync: ${(err as Error).message}`, status: 1 });
  }
  const pool = new HttpPool({ maxSockets: 64, ...setup.tls.routes });
  try {
    return await run(setup, pool, args.flags.has('--dry-run'), json, io);
  } finally {
    pool.close();
    clients.forEach(c => c.destroy());
  }
}

interface Setup {
  readonly config: SyncConfig;
  readonly tls: TlsSettings;
  readonly credentials: SideCredentials;
  readonly redactor: Redactor;
}

function prepare(file: string, authfile: string | undefined, env: NodeJS.ProcessEnv, clients: Closeable[]): Setup {
  const config = loadSyncConfig(file, loadYaml());
  const named = new Map<string, FoundCredentials>();
  const redactor = new Redactor();
  for (const [host, r] of config.registries) {
    if (r.credentialsEnv !== undefined) {
      const value = env[r.credentialsEnv];
      if (!value) {
        throw new Error(`registries.${host}.credentialsEnv names ${r.credentialsEnv}, which is not set; set it to USER:PASS`);
      }
      const credentials = parseCreds(value, r.credentialsEnv);
      redactor.addCredentials(credentials);
      named.set(host, { credentials, from: `${r.credentialsEnv} (registries.${host}.credentialsEnv)` });
    }
  }
  const tls = tlsSettings([...config.registries].map(([registry, r]) => ({
    registry, certDir: r.certDir, verify: r.tlsVerify, where: `registries.${registry}.certDir`,
  })));
  const docker = DockerConfig.load(authfile ?? defaultDockerConfigPath(env), authfile !== undefined, env);
  const side = { flag: 'credentialsEnv', variable: '', hint: 'a credentialsEnv for it under registries in the config' };
  return { config, tls, credentials: new SideCredentials(side, undefined, env, docker, clients, named), redactor };
}

/** The YAML parser: the side bundle of yaml.ts in the package, the package itself run from source. */
function loadYaml(): (text: string) => unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yaml = loadSideBundle<typeof import('./yaml')>('yaml', () => require('yaml'));
  return text => yaml.parse(text);
}

async function run(setup: Setup, pool: HttpPool, dryRun: boolean, json: boolean, io: Io): Promise<number> {
  const { config, redactor } = setup;
  const started = Date.now();
  const credentials = setup.credentials.source(redactor);
  const routes = { ...setup.tls.routes, redactor };
  const outcomes: SyncOutcome[] = [];
  const jobs: SyncJob[] = [];
  for (const entry of config.entries) {
    try {
      jobs.push(...await expand(entry, credentials, routes));
    } catch (err) {
      outcomes.push(failed(entry.source, entry.destination, err, setup, redactor));
    }
  }
  outcomes.forEach(o => io.stderr.write(`${line(o)}\n`));
  let done = 0;
  const results = await mapLimit(jobs, dryRun ? 8 : config.parallelImages, async (job) => {
    const outcome = dryRun ? await plan(job, credentials, routes, setup, redactor) : await copy(job, credentials, pool, setup, redactor);
    done++;
    io.stderr.write(`[${done}/${jobs.length}] ${line(outcome)}\n`);
    return outcome;
  });
  outcomes.push(...results);
  const seconds = (Date.now() - started) / 1000;
  const count = (status: SyncOutcome['status']) => outcomes.filter(o => o.status === status).length;
  const failures = outcomes.filter(o => o.status === 'failed');
  const counts = dryRun
    ? `${count('would copy')} to copy, ${count('would move')} tags to move, ${count('refused')} refused (no-clobber), ${count('unchanged')} already there`
    : `${count('copied')} copied, ${count('unchanged')} already there`;
  io.stderr.write(`sync${dryRun ? ' --dry-run' : ''}: ${outcomes.length} images: ${counts}, ${failures.length} failed, in ${formatSeconds(seconds)}\n`);
  for (const f of failures) {
    io.stderr.write(`failed: ${f.source} -> ${f.destination}: ${f.error!.message}\n`);
  }
  if (json) {
    io.stdout.write(JSON.stringify({ dryRun, seconds, images: outcomes, failed: failures.length }, null, 2) + '\n');
  }
  return failures.length > 0 ? 1 : 0;
}

/** An entry's images: the single image it names, or the repository's tags it lists or matches. */
async function expand(entry: SyncEntry, credentials: CredentialSource, routes: ManifestRequestOptions): Promise<SyncJob[]> {
  const { source, destination } = entry;
  if (source.tag !== undefined || source.digest !== undefined) {
    return [{ source, destination, entry }];
  }
  let tags = entry.tags;
  if (!tags) {
    const all = await listTags(source.registry, source.repository, credentials, routes);
    tags = all.filter(t => entry.tagPattern!.test(t));
  }
  return tags.map(tag => ({ source: { ...source, tag }, destination: { ...destination, tag }, entry }));
}

/** The dry run's look at one image: where its source and destination stand. */
async function plan(
  job: SyncJob, credentials: CredentialSource, routes: ManifestRequestOptions, setup: Setup, redactor: Redactor,
): Promise<SyncOutcome> {
  const src = formatImageReference(job.source);
  const dstRef = { ...job.destination, tag: job.destination.tag ?? job.source.tag };
  const dst = formatImageReference(dstRef);
  try {
    const [held, there] = await Promise.all([
      inspectManifest(job.source, credentials, routes),
      dstRef.tag ? inspectManifest(dstRef, credentials, routes) : Promise.resolve(undefined),
    ]);
    if (!held) {
      throw new CopyError('NOT_FOUND', `${src} does not exist; check the repository and tag`, { registry: job.source.registry });
    }
    // With a platform filter the copy writes an index of its own: its digest is not the source's.
    const filtered = job.entry.platforms.length > 0;
    if (there && there.digest === held.digest && !filtered) {
      return { source: src, destination: dst, status: 'unchanged', digest: held.digest };
    }
    if (there && !filtered) {
      const status = job.entry.noClobber ? 'refused' : 'would move';
      return { source: src, destination: dst, status, digest: held.digest, replacedDigest: there.digest };
    }
    return { source: src, destination: dst, status: 'would copy', digest: held.digest };
  } catch (err) {
    return failed(job.source, dstRef, err, setup, redactor);
  }
}

async function copy(job: SyncJob, credentials: CredentialSource, pool: HttpPool, setup: Setup, redactor: Redactor): Promise<SyncOutcome> {
  const src = formatImageReference(job.source);
  const dstRef = { ...job.destination, tag: job.destination.tag ?? job.source.tag };
  const dst = formatImageReference(dstRef);
  try {
    const result = await copyImage({
      source: job.source,
      destination: job.destination,
      sourceCredentials: credentials,
      destinationCredentials: credentials,
      platforms: job.entry.platforms,
      concurrency: setup.config.concurrency,
      noClobber: job.entry.noClobber,
      connections: pool,
      ...setup.tls.routes,
      redactor,
    });
    return {
      source: src,
      destination: dst,
      status: result.alreadyPresent ? 'unchanged' : 'copied',
      digest: result.digest,
      bytesCopied: result.bytesCopied,
      ...(result.replacedDigest ? { replacedDigest: result.replacedDigest } : {}),
    };
  } catch (err) {
    return failed(job.source, dstRef, err, setup, redactor);
  }
}

function failed(source: ImageReference, destination: ImageReference, err: unknown, setup: Setup, redactor: Redactor): SyncOutcome {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof CopyError ? err.code : 'FAILED';
  const explained = err instanceof CopyError && err.registry ? setup.credentials.explain(err, err.registry) : undefined;
  return {
    source: formatImageReference(source),
    destination: formatImageReference(destination),
    status: 'failed',
    error: { code, message: redactor.text(`[${code}] ${explained ?? message}`) },
  };
}

/** One image's line on stderr. */
function line(o: SyncOutcome): string {
  const moved = o.replacedDigest ? ` (tag moved from ${o.replacedDigest})` : '';
  switch (o.status) {
    case 'copied':
      return `copied ${o.source} -> ${o.destination} ${o.digest}, ${formatBytes(o.bytesCopied ?? 0)}${moved}`;
    case 'unchanged':
      return `already there: ${o.source} -> ${o.destination} ${o.digest}`;
    case 'would copy':
      return `would copy ${o.source} -> ${o.destination} ${o.digest}`;
    case 'would move':
      return `would move ${o.destination} from ${o.replacedDigest} to ${o.digest} (${o.source})`;
    case 'refused':
      return `refused (no-clobber): ${o.destination} holds ${o.replacedDigest}, ${o.source} is ${o.digest}`;
    default:
      return `failed: ${o.source} -> ${o.destination}: ${o.error?.message ?? ''}`;
  }
}
