/**
 * What a hostile manifest graph costs the copy engine: manifest requests at the source, wall
 * time and peak RSS of one copy, for the graphs of the hostile-registries issue.
 *
 *   npx tsx scripts/manifest-graphs.ts [--engine-ref REF]
 *
 * - `amplified`: an 82 KB index whose 400 entries all name one 1 MiB image manifest.
 * - `nested`: three levels of indexes, each 40 entries wide, every entry of a level naming the
 *   same manifest (a reader without a cache asks 40 + 40^2 + 40^3 times).
 * - `nested-distinct`: the same shape with every entry distinct (64,000 image manifests): the caps
 *   must refuse it early.
 *
 * The source is the test bed's in-memory registry (test/support/hostile.ts) on 127.0.0.1; the engine
 * (from the working tree, or from `src/` at a git ref) runs bundled in its own process under GNU
 * time, so its peak RSS is its own. It is a measurement, not a test.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundleEngineRunner } from './engine-runner';
import { ManifestGraph, amplifyingIndex, nestedIndexes, serveGraph, startFakeRegistry } from '../test/support/hostile';

const GNU_TIME = '/usr/bin/time';

const RUNNER = `
import { copyImage } from './src/sync/copy';
const [source, destination] = process.argv.slice(2);
copyImage({ source, destination }).then((result) => {
  process.stdout.write(JSON.stringify({ ok: true, digest: result.digest }));
}, (error) => {
  process.stdout.write(JSON.stringify({ ok: false, code: error && error.code, message: String(error && error.message).slice(0, 200) }));
});
`;

function bundle(work: string, ref: string | undefined): string {
  return bundleEngineRunner(RUNNER, work, ref, 'runner');
}

async function measure(runner: string, work: string, name: string, graph: ManifestGraph): Promise<string> {
  const src = await startFakeRegistry();
  const dst = await startFakeRegistry();
  serveGraph(src, 'app', 'v1', graph);
  const rssFile = path.join(work, `rss-${name}`);
  const started = process.hrtime.bigint();
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(GNU_TIME, ['-f', '%M', '-o', rssFile, process.execPath, runner, `${src.host}/app:v1`, `${dst.host}/app:v1`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rssMiB = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024;
  const gets = src.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).length;
  await Promise.all([src.close(), dst.close()]);
  const outcome = JSON.parse(stdout || '{"ok":false,"message":"no output"}');
  const result = outcome.ok ? 'copied' : `${outcome.code}: ${outcome.message}`;
  return `| ${name} | ${graph.top.bytes.length} | ${gets} | ${seconds.toFixed(2)} | ${rssMiB.toFixed(0)} | ${result.replace(/\|/g, '/')} |`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const refAt = args.indexOf('--engine-ref');
  const ref = refAt >= 0 ? args[refAt + 1] : undefined;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-graphs-'));
  try {
    const runner = bundle(work, ref);
    const rows = [
      '| graph | top manifest bytes | manifest GETs | seconds | peak RSS MiB | outcome |',
      '|:--|--:|--:|--:|--:|:--|',
      await measure(runner, work, 'amplified', amplifyingIndex(400, 1024 * 1024)),
      await measure(runner, work, 'nested', nestedIndexes(40, 3, false)),
      await measure(runner, work, 'nested-distinct', nestedIndexes(40, 3, true)),
    ];
    process.stdout.write(`engine from ${ref ?? 'the working tree'}\n\n${rows.join('\n')}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 2;
});
