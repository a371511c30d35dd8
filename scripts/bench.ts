/**
 * Benchmark: the copy engine against `skopeo copy` on the same two local registries.
 *
 *   npx tsx scripts/bench.ts [--quick] [--case NAME]... [--repeat N] [--requests] [--json FILE]
 *                            [--engine-concurrency N] [--engine-ref REF] [--pipe] [--cli] [--latency MS]
 *
 * `--cli` times the packaged command (`node assets/cli/index.js copy SRC DST --json`, start-up
 * included) instead of the engine runner. `--latency MS` puts a TCP proxy that adds MS of
 * round-trip time between the tools and both registries, as a cross-region pull sees.
 *
 * For each case the source image is pushed once; then the engine (a bundled child process, so its
 * peak RSS is its own) and skopeo each copy it into a fresh destination registry, and the large
 * layers are uploaded once more with a plain POST + PUT (the destination's raw ingest, the floor
 * of any copy). Wall times are measured around each child process; peak RSS comes from GNU time.
 * `--requests` also copies each case through pass-through proxies and counts requests per blob.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { PassThrough, Readable } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import { bundleEngineRunner } from './engine-runner';
import { startFaultProxy } from '../test/support/fault-proxy';
import {
  buildImage, digestingStream, MEDIA_TYPES, pushImage, putManifest, randomStream, readManifest, RegistryTarget, sha256, uploadBlob,
} from '../test/support/images';
import { startLatencyProxy } from '../test/support/latency-proxy';
import { requireTool, startRegistry, stopAll, TestRegistry } from '../test/support/registry';

const USAGE = '[--quick] [--case NAME]... [--repeat N] [--requests] [--json FILE] [--engine-concurrency N] [--engine-ref REF] [--pipe] [--cli] [--latency MS]';
const CLI = path.resolve(__dirname, '..', 'assets', 'cli', 'index.js');
const MiB = 1024 * 1024;
const KiB = 1024;
const GNU_TIME = '/usr/bin/time';
const ROOT = path.resolve(__dirname, '..');

interface Layer {
  readonly digest: string;
  readonly size: number;
  /** Large layers live in a temp file (never in memory); small ones in memory. */
  readonly file?: string;
  readonly data?: Buffer;
}

interface SourceImage {
  readonly repo: string;
  readonly tag: string;
  readonly digest: string;
  readonly index: boolean;
  readonly layers: Layer[];
  readonly bytes: number;
}

interface CaseSpec {
  readonly name: string;
  readonly title: string;
  /** Large layers: measure raw ingest and hold the engine to 1.3x of it. */
  readonly large: boolean;
  /** Copy once untimed, then time a second copy of the unchanged image. */
  readonly recopy: boolean;
  readonly build: (source: TestRegistry, work: string) => Promise<SourceImage>;
}

interface ToolRun {
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly cpuSeconds: number;
  /** The engine only: time inside the process, around copyImage. */
  readonly copySeconds?: number;
  readonly bytesCopied?: number;
}

interface CaseResult {
  readonly name: string;
  readonly title: string;
  readonly bytes: number;
  readonly blobs: number;
  readonly engine: ToolRun;
  readonly skopeo: ToolRun;
  readonly rawSeconds?: number;
  /** With --pipe: the unverified GET-to-PUT stream of the same layers (the copy floor). */
  readonly pipeSeconds?: number;
  readonly requests?: { engine: RequestCounts; skopeo: RequestCounts };
}

interface RequestCounts {
  readonly source: number;
  readonly destination: number;
  /** Destination requests per blob, by method, e.g. 'HEAD 1, POST 1, PUT 1'. */
  readonly perBlob: string;
}

function parseArgs(argv: string[]) {
  const out = {
    quick: false,
    cases: [] as string[],
    repeat: 1,
    requests: false,
    json: undefined as string | undefined,
    concurrency: undefined as number | undefined,
    engineRef: undefined as string | undefined,
    pipe: false,
    cli: false,
    latency: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--quick':
        out.quick = true;
        break;
      case '--requests':
        out.requests = true;
        break;
      case '--case':
        out.cases.push(argv[++i]);
        break;
      case '--repeat':
        out.repeat = Math.max(1, Number(argv[++i]));
        break;
      case '--json':
        out.json = argv[++i];
        break;
      case '--engine-concurrency':
        out.concurrency = Number(argv[++i]);
        break;
      case '--pipe':
        out.pipe = true;
        break;
      case '--cli':
        out.cli = true;
        break;
      case '--latency':
        out.latency = Number(argv[++i]);
        break;
      case '--engine-ref':
        out.engineRef = argv[++i];
        break;
      case '--help':
      case '-h':
        process.stdout.write(`usage: npx tsx scripts/bench.ts ${USAGE}\n`);
        process.exit(0);
      default:
        throw new Error(`unknown argument ${JSON.stringify(argv[i])} (see --help)`);
    }
  }
  return out;
}

function cases(quick: boolean): CaseSpec[] {
  const big = quick ? 64 * MiB : 1024 * MiB;
  const medium = quick ? 8 * MiB : 64 * MiB;
  const smallCount = quick ? 50 : 200;
  const platformLayers = quick ? [4 * MiB, 4 * MiB] : [32 * MiB, 32 * MiB, 32 * MiB, 32 * MiB];
  const fmt = (n: number) => (n >= MiB * 1024 ? `${n / MiB / 1024} GiB` : n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);
  return [
    {
      name: '1x1GiB',
      title: `1 x ${fmt(big)}`,
      large: true,
      recopy: false,
      build: (src, work) => pushLargeImage(src, work, 'bench/one-big', [big], 'linux/amd64'),
    },
    {
      name: '8x64MiB',
      title: `8 x ${fmt(medium)}`,
      large: true,
      recopy: false,
      build: (src, work) => pushLargeImage(src, work, 'bench/eight', Array(8).fill(medium), 'linux/amd64'),
    },
    {
      name: '200x64KiB',
      title: `${smallCount} x 64 KiB`,
      large: false,
      recopy: false,
      build: (src) => pushSmallImage(src, 'bench/many-small', smallCount),
    },
    {
      name: 'index',
      title: `2-platform index, ${platformLayers.length} x ${fmt(platformLayers[0])} each`,
      large: true,
      recopy: false,
      build: (src, work) => pushLargeIndex(src, work, 'bench/index', platformLayers),
    },
    {
      name: 'recopy',
      title: `re-copy, unchanged 8 x ${fmt(medium)}`,
      large: false,
      recopy: true,
      build: (src, work) => pushLargeImage(src, work, 'bench/recopy', Array(8).fill(medium), 'linux/amd64'),
    },
    {
      name: 'recopy-200',
      title: `re-copy, unchanged ${smallCount} x 64 KiB`,
      large: false,
      recopy: true,
      build: (src) => pushSmallImage(src, 'bench/recopy-small', smallCount),
    },
  ];
}

// ---- source images ---------------------------------------------------------------------------

/** A gzip stream (stored blocks: random data does not compress) of seeded random bytes, so skopeo passes it through. */
function gzipOfRandom(seed: Buffer, size: number): Readable {
  return randomStream(seed, size).pipe(zlib.createGzip({ level: 0 }));
}

async function writeLayerFile(work: string, size: number): Promise<{ file: string; digest: string; size: number }> {
  const file = path.join(work, `layer-${crypto.randomBytes(6).toString('hex')}.gz`);
  const tap = digestingStream();
  await pipeline(gzipOfRandom(crypto.randomBytes(16), size), tap, fs.createWriteStream(file));
  return { file, ...tap.result() };
}

async function pushLayers(reg: RegistryTarget, repo: string, layers: Layer[], concurrency = 4): Promise<void> {
  await mapLimit(layers, concurrency, (l) => uploadBlob(reg, repo, l.digest,
    l.data ?? (() => fs.createReadStream(l.file!, { highWaterMark: MiB })), l.size));
}

function imageManifest(layers: Layer[], platform: string): { config: Buffer; manifest: Buffer } {
  const [osName, architecture, variant] = platform.split('/');
  const config = Buffer.from(JSON.stringify({
    architecture,
    os: osName,
    ...(variant ? { variant } : {}),
    config: { Labels: { 'bench.nonce': crypto.randomBytes(8).toString('hex') } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.ociLayer, digest: l.digest, size: l.size })),
  }, null, 2));
  return { config, manifest };
}

async function pushPlatformImage(src: TestRegistry, work: string, repo: string, sizes: number[], platform: string, tag?: string) {
  const layers: Layer[] = [];
  for (const size of sizes) layers.push(await writeLayerFile(work, size));
  await pushLayers(src, repo, layers);
  const { config, manifest } = imageManifest(layers, platform);
  await uploadBlob(src, repo, sha256(config), config);
  const digest = await putManifest(src, repo, tag ?? sha256(manifest), MEDIA_TYPES.ociManifest, manifest);
  return { layers, digest, manifest, bytes: layers.reduce((n, l) => n + l.size, 0) + config.length + manifest.length };
}

async function pushLargeImage(src: TestRegistry, work: string, repo: string, sizes: number[], platform: string): Promise<SourceImage> {
  const img = await pushPlatformImage(src, work, repo, sizes, platform, 'v1');
  return { repo, tag: 'v1', digest: img.digest, index: false, layers: img.layers, bytes: img.bytes };
}

async function pushLargeIndex(src: TestRegistry, work: string, repo: string, sizes: number[]): Promise<SourceImage> {
  const children = [];
  for (const platform of ['linux/amd64', 'linux/arm64/v8']) {
    children.push({ platform, ...(await pushPlatformImage(src, work, repo, sizes, platform)) });
  }
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: children.map((c) => {
      const [osName, architecture, variant] = c.platform.split('/');
      const platform = { os: osName, architecture, ...(variant ? { variant } : {}) };
      return { mediaType: MEDIA_TYPES.ociManifest, digest: c.digest, size: c.manifest.length, platform };
    }),
  }, null, 2));
  const digest = await putManifest(src, repo, 'v1', MEDIA_TYPES.ociIndex, index);
  return {
    repo,
    tag: 'v1',
    digest,
    index: true,
    layers: children.flatMap((c) => c.layers),
    bytes: children.reduce((n, c) => n + c.bytes, 0) + index.length,
  };
}

async function pushSmallImage(src: TestRegistry, repo: string, count: number): Promise<SourceImage> {
  const img = buildImage({ layers: Array(count).fill(64 * KiB) });
  await pushImage(src, repo, 'v1', img);
  const layerDigests: string[] = JSON.parse(img.manifest.toString('utf8')).layers.map((l: { digest: string }) => l.digest);
  return {
    repo,
    tag: 'v1',
    digest: img.digest,
    index: false,
    layers: layerDigests.map((d) => ({ digest: d, size: img.blobs.get(d)!.length, data: img.blobs.get(d)! })),
    bytes: [...img.blobs.values()].reduce((n, b) => n + b.length, 0) + img.manifest.length,
  };
}

// ---- the tools -------------------------------------------------------------------------------

const RUNNER = `
import { copyImage } from './src/sync/copy';
const [source, destination, concurrency] = process.argv.slice(2);
const started = process.hrtime.bigint();
copyImage({ source, destination, concurrency: concurrency ? Number(concurrency) : undefined }).then((result) => {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, result }));
  process.exit(0);
}, (error) => {
  process.stderr.write(String(error && error.message) + '\\n');
  process.exit(1);
});
`;

function bundleEngine(work: string, ref: string | undefined): string {
  return bundleEngineRunner(RUNNER, work, ref, 'engine-runner');
}

interface Timed {
  seconds: number;
  peakRssMiB: number;
  /** User + system CPU seconds of the child. */
  cpuSeconds: number;
  stdout: string;
}

/** Runs a command under GNU time; wall time around the child, peak RSS from time's %M (KiB). */
async function timed(command: string, args: string[], work: string): Promise<Timed> {
  const rssFile = path.join(work, `rss-${crypto.randomBytes(4).toString('hex')}`);
  const started = process.hrtime.bigint();
  const child: ChildProcess = spawn(GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${path.basename(command)} failed (${code}): ${stderr.trim().slice(-2000)}`);
  const [rssKiB, user, system] = fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(rssFile, { force: true });
  return { seconds, peakRssMiB: rssKiB / 1024, cpuSeconds: user + system, stdout };
}

/** Parallel blob copies for the engine; undefined = the engine's default. */
let engineConcurrency: number | undefined;

/** With --cli: the packaged command instead of the runner; with --latency: the added round-trip time. */
let useCli = false;
let latencyMs = 0;

async function runEngine(runner: string, work: string, src: string, dst: string, expectDigest: string): Promise<ToolRun> {
  if (useCli) {
    const c = await timed(process.execPath, [CLI, 'copy', src, dst, '--json', ...(engineConcurrency ? ['--concurrency', String(engineConcurrency)] : [])], work);
    const result = JSON.parse(c.stdout);
    if (!result.complete || result.digest !== expectDigest) throw new Error(`the CLI copied ${result.digest}, expected ${expectDigest}`);
    return { seconds: c.seconds, peakRssMiB: c.peakRssMiB, cpuSeconds: c.cpuSeconds, bytesCopied: result.bytesCopied };
  }
  const t = await timed(process.execPath, [runner, src, dst, ...(engineConcurrency ? [String(engineConcurrency)] : [])], work);
  const out = JSON.parse(t.stdout);
  if (!out.result.complete || out.result.digest !== expectDigest) {
    throw new Error(`engine copied ${out.result.digest} (complete: ${out.result.complete}), expected ${expectDigest}`);
  }
  return { seconds: t.seconds, peakRssMiB: t.peakRssMiB, cpuSeconds: t.cpuSeconds, copySeconds: out.ms / 1000, bytesCopied: out.result.bytesCopied };
}

async function runSkopeo(work: string, src: string, dst: string, index: boolean): Promise<ToolRun> {
  const args = ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...(index ? ['--all'] : []), `docker://${src}`, `docker://${dst}`];
  const t = await timed('skopeo', args, work);
  return { seconds: t.seconds, peakRssMiB: t.peakRssMiB, cpuSeconds: t.cpuSeconds };
}

/** Uploads the same layer bytes straight to a registry: POST + one PUT each, as parallel as the engine. */
async function rawIngest(reg: TestRegistry, img: SourceImage): Promise<number> {
  const started = process.hrtime.bigint();
  await pushLayers(reg, 'raw/ingest', img.layers, 6);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The floor of any copy on this machine: each layer streamed from the source registry straight
 * into a POST + PUT upload at the destination, six at a time, with no verification at all.
 */
async function plainPipe(source: TestRegistry, reg: TestRegistry, img: SourceImage): Promise<number> {
  const started = process.hrtime.bigint();
  await mapLimit(img.layers, 6, (l) => uploadBlob(reg, 'raw/pipe', l.digest, () => {
    const through = new PassThrough({ highWaterMark: MiB });
    http.get(`${source.url}/v2/${img.repo}/blobs/${l.digest}`, { agent: pipeAgent }, (res) => {
      if (res.statusCode !== 200) through.destroy(new Error(`source answered ${res.statusCode} for ${l.digest}`));
      else res.pipe(through);
    }).on('error', (e) => through.destroy(e));
    return through;
  }, l.size));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const pipeAgent = new http.Agent({ keepAlive: true, maxSockets: 6 });

async function verifyCopy(reg: TestRegistry, repo: string, tag: string, digest: string): Promise<void> {
  const got = await readManifest(reg, repo, tag);
  if (got?.digest !== digest) throw new Error(`destination ${repo}:${tag} holds ${got?.digest}, expected ${digest}`);
}

// ---- request counts (diagnostic) -------------------------------------------------------------

async function countRequests(tool: 'engine' | 'skopeo', runner: string, work: string, source: TestRegistry, img: SourceImage,
  recopy: boolean): Promise<RequestCounts> {
  const dest = await startRegistry();
  const srcProxy = await startFaultProxy(source);
  const dstProxy = await startFaultProxy(dest);
  try {
    const from = `${srcProxy.host}/${img.repo}:${img.tag}`;
    const to = `${dstProxy.host}/counted/${tool}:${img.tag}`;
    const once = () => (tool === 'engine' ? runEngine(runner, work, from, to, img.digest) : runSkopeo(work, from, to, img.index));
    if (recopy) {
      await once();
      srcProxy.clearRequests();
      dstProxy.clearRequests();
    }
    await once();
    const byMethod = new Map<string, number>();
    const perBlob = dstProxy.requestsPerBlob();
    const layerDigests = new Set(img.layers.map((l) => l.digest));
    for (const [digest, records] of perBlob) {
      if (!layerDigests.has(digest)) continue;
      for (const r of records) byMethod.set(r.method, (byMethod.get(r.method) ?? 0) + 1);
    }
    // POST and PATCH requests of an upload session are attributed through the session's id.
    const n = img.layers.length;
    const summary = [...byMethod].sort().map(([m, c]) => `${m} ${+(c / n).toFixed(2)}`).join(', ');
    return { source: srcProxy.requests.length, destination: dstProxy.requests.length, perBlob: summary };
  } finally {
    await srcProxy.stop();
    await dstProxy.stop();
    await dest.stop();
  }
}

// ---- main ------------------------------------------------------------------------------------

async function runCase(spec: CaseSpec, source: TestRegistry, runner: string, work: string, repeat: number, requests: boolean,
  pipe: boolean): Promise<CaseResult> {
  process.stderr.write(`\n[${spec.name}] pushing the source image (${spec.title})...\n`);
  const img = await spec.build(source, work);
  // Write the pushed layers back to disk now, so that writeback does not slow whichever tool runs first.
  execFileSync('sync');
  // With --latency both tools reach every registry through a proxy that adds the round-trip time.
  const far = async (host: string) => (latencyMs > 0 ? startLatencyProxy(host, latencyMs) : { host, stop: async () => undefined });
  const sourceProxy = await far(source.host);
  const src = `${sourceProxy.host}/${img.repo}:${img.tag}`;
  const engineRuns: ToolRun[] = [];
  const skopeoRuns: ToolRun[] = [];
  const rawRuns: number[] = [];
  const pipeRuns: number[] = [];
  for (let i = 0; i < repeat; i++) {
    // Alternate which tool goes first, so neither always meets a cold or busy machine.
    const order = i % 2 === 0 ? (['engine', 'skopeo'] as const) : (['skopeo', 'engine'] as const);
    for (const tool of order) {
      // A fresh destination for every tool and run: neither benefits from the other.
      const dest = await startRegistry();
      const destProxy = await far(dest.host);
      try {
        const dst = `${destProxy.host}/copy/${tool}:${img.tag}`;
        const once = () => (tool === 'engine' ? runEngine(runner, work, src, dst, img.digest) : runSkopeo(work, src, dst, img.index));
        if (spec.recopy) await once();
        const run = await once();
        await verifyCopy(dest, `copy/${tool}`, img.tag, img.digest);
        if (spec.recopy && tool === 'engine' && run.bytesCopied !== 0) throw new Error(`engine re-copy moved ${run.bytesCopied} bytes`);
        (tool === 'engine' ? engineRuns : skopeoRuns).push(run);
        process.stderr.write(`[${spec.name}] ${tool}: ${run.seconds.toFixed(2)} s, ${run.cpuSeconds.toFixed(2)} s CPU, `
          + `peak RSS ${run.peakRssMiB.toFixed(0)} MiB\n`);
      } finally {
        await destProxy.stop();
        await dest.stop();
      }
    }
    if (spec.large) {
      const dest = await startRegistry();
      try {
        rawRuns.push(await rawIngest(dest, img));
        process.stderr.write(`[${spec.name}] raw ingest: ${rawRuns[rawRuns.length - 1].toFixed(2)} s\n`);
      } finally {
        await dest.stop();
      }
    }
    if (spec.large && pipe) {
      const dest = await startRegistry();
      try {
        pipeRuns.push(await plainPipe(source, dest, img));
        process.stderr.write(`[${spec.name}] plain pipe: ${pipeRuns[pipeRuns.length - 1].toFixed(2)} s\n`);
      } finally {
        await dest.stop();
      }
    }
  }
  let counts: CaseResult['requests'];
  if (requests) {
    counts = {
      engine: await countRequests('engine', runner, work, source, img, spec.recopy),
      skopeo: await countRequests('skopeo', runner, work, source, img, spec.recopy),
    };
  }
  await sourceProxy.stop();
  for (const l of img.layers) if (l.file) fs.rmSync(l.file, { force: true });
  return {
    name: spec.name,
    title: latencyMs > 0 ? `${spec.title}, +${latencyMs} ms RTT` : spec.title,
    bytes: img.bytes,
    blobs: img.layers.length,
    engine: median(engineRuns),
    skopeo: median(skopeoRuns),
    rawSeconds: rawRuns.length > 0 ? medianOf(rawRuns) : undefined,
    pipeSeconds: pipeRuns.length > 0 ? medianOf(pipeRuns) : undefined,
    requests: counts,
  };
}

/**
 * The wall-time ratio to skopeo a case must stay within: many small layers at most 0.5x (0.3x
 * with added round-trip time, where skopeo's connection per request costs most); a re-copy of an
 * unchanged image at most 2.0x (Node's start-up is most of it); everything else at most 1.0x.
 */
function targetRatio(name: string): number {
  if (name === '200x64KiB') return latencyMs > 0 ? 0.3 : 0.5;
  if (name === 'recopy' || name === 'recopy-200') return 2.0;
  return 1.0;
}

function report(results: CaseResult[], quick: boolean): { table: string; targets: string; pass: boolean } {
  const header = ['case', 'engine s', 'skopeo s', 'ratio', 'engine peak RSS', 'skopeo peak RSS', 'raw ingest s', 'engine/raw', 'engine copy s',
    'engine CPU s', 'skopeo CPU s'];
  const rows = results.map((r) => [
    r.title,
    r.engine.seconds.toFixed(2),
    r.skopeo.seconds.toFixed(2),
    `${(r.engine.seconds / r.skopeo.seconds).toFixed(2)}x`,
    `${r.engine.peakRssMiB.toFixed(0)} MiB`,
    `${r.skopeo.peakRssMiB.toFixed(0)} MiB`,
    r.rawSeconds !== undefined ? r.rawSeconds.toFixed(2) : '-',
    r.rawSeconds !== undefined ? `${(r.engine.seconds / r.rawSeconds).toFixed(2)}x` : '-',
    r.engine.copySeconds !== undefined ? r.engine.copySeconds.toFixed(2) : '-',
    r.engine.cpuSeconds.toFixed(2),
    r.skopeo.cpuSeconds.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const table = [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');

  const checks: [string, boolean][] = [];
  for (const r of results) {
    const limit = targetRatio(r.name);
    const wall = r.engine.seconds / r.skopeo.seconds;
    const call = r.engine.copySeconds !== undefined ? `; copy call ${(r.engine.copySeconds / r.skopeo.seconds).toFixed(2)}x` : '';
    // Judged on the engine's whole process (Node start-up included); the copy call alone is what a warm Lambda pays.
    checks.push([`${r.title}: ${useCli ? 'CLI' : 'engine'} <= ${limit.toFixed(1)}x skopeo wall time (process ${wall.toFixed(2)}x${call})`,
      wall <= limit]);
  }
  const big = results.find((r) => r.name === '1x1GiB');
  if (big) checks.push([`${big.title}: engine peak RSS <= 160 MiB (${big.engine.peakRssMiB.toFixed(0)} MiB)`, big.engine.peakRssMiB <= 160]);
  for (const r of results.filter((x) => x.name === '1x1GiB' || x.name === '8x64MiB')) {
    checks.push([`${r.title}: engine <= 1.3x raw ingest (${(r.engine.seconds / r.rawSeconds!).toFixed(2)}x)`, r.engine.seconds <= 1.3 * r.rawSeconds!]);
  }
  const targets = checks.map(([text, ok]) => `${ok ? 'PASS' : 'FAIL'}  ${text}`).join('\n');
  const requestLines = results.filter((r) => r.requests).map((r) => [
    `${r.title}:`,
    `  engine: ${r.requests!.engine.source} source + ${r.requests!.engine.destination} destination requests; per layer at the destination: ${r.requests!.engine.perBlob}`,
    `  skopeo: ${r.requests!.skopeo.source} source + ${r.requests!.skopeo.destination} destination requests; per layer at the destination: ${r.requests!.skopeo.perBlob}`,
  ].join('\n'));
  const pipeLines = results.filter((r) => r.pipeSeconds !== undefined).map((r) =>
    `${r.title}: plain pipe ${r.pipeSeconds!.toFixed(2)} s; engine/pipe ${(r.engine.seconds / r.pipeSeconds!).toFixed(2)}x; `
    + `pipe/raw ingest ${(r.pipeSeconds! / r.rawSeconds!).toFixed(2)}x`);
  const note = quick ? '\n(--quick: a smoke run at smaller sizes; the targets are judged on the full sizes only, so it exits 0 when every copy succeeded)' : '';
  return {
    table,
    targets: targets + note
      + (pipeLines.length > 0 ? `\n\nUnverified GET-to-PUT pipe of the same layers, 6 at a time (the copy floor here):\n${pipeLines.join('\n')}` : '')
      + (requestLines.length > 0 ? `\n\nRequests (through pass-through proxies):\n${requestLines.join('\n')}` : ''),
    pass: checks.every(([, ok]) => ok),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  engineConcurrency = args.concurrency;
  useCli = args.cli;
  latencyMs = args.latency;
  if (useCli && !fs.existsSync(CLI)) throw new Error(`fails to find ${CLI}; build it with \`npx projen bundle\``);
  requireTool('docker-registry');
  requireTool('skopeo');
  if (!fs.existsSync(GNU_TIME)) throw new Error(`fails to find GNU time at ${GNU_TIME} for peak RSS; run \`bash scripts/ensure-tools.sh\``);
  const all = cases(args.quick);
  const selected = args.cases.length > 0 ? all.filter((c) => args.cases.includes(c.name)) : all;
  const unknown = args.cases.filter((n) => !all.some((c) => c.name === n));
  if (unknown.length > 0) throw new Error(`unknown case ${unknown.join(', ')}; cases: ${all.map((c) => c.name).join(', ')}`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-bench-'));
  const cleanup = () => fs.rmSync(work, { recursive: true, force: true });
  process.on('exit', cleanup);
  try {
    const runner = bundleEngine(work, args.engineRef);
    const engine = useCli ? 'the packaged CLI (assets/cli/index.js) from the working tree' : args.engineRef
      ? `engine at ${execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', args.engineRef], { encoding: 'utf8' }).trim()}`
      : 'engine from the working tree';
    const source = await startRegistry();
    const results: CaseResult[] = [];
    for (const spec of selected) results.push(await runCase(spec, source, runner, work, args.repeat, args.requests, args.pipe));
    const { table, targets, pass } = report(results, args.quick);
    const machine = `${engine}; ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${skopeoVersion()}, `
      + 'docker-registry (distribution 2.8)';
    process.stdout.write(`\n${machine}\n\n${table}\n\n${targets}\n`);
    if (args.json) fs.writeFileSync(args.json, JSON.stringify({ machine, quick: args.quick, results }, null, 2));
    // A copy that fails throws above; a missed target fails only a full-size run.
    process.exitCode = pass || args.quick ? 0 : 1;
  } finally {
    await stopAll();
    cleanup();
  }
}

function skopeoVersion(): string {
  try {
    return execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'skopeo';
  }
}

function median(runs: ToolRun[]): ToolRun {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  const mid = sorted[Math.floor(sorted.length / 2)];
  return { ...mid, peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)) };
}

function medianOf(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).message}\n`);
  process.exitCode = 2;
  void stopAll();
});
