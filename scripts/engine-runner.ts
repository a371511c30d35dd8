/**
 * Bundles a small script that drives the copy engine (the benchmark's and the manifest-graph
 * measurements' runners), from the working tree or from `src/` at a git ref, so that two engines
 * can be measured side by side in one run.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as esbuild from 'esbuild';

const ROOT = path.join(__dirname, '..');

/**
 * Writes `<work>/<name>.js`: `source` (TypeScript importing `./src/...`) bundled with the engine.
 *
 * @param ref a git ref whose `src/` the runner imports instead of the working tree's (exported with git archive)
 */
export function bundleEngineRunner(source: string, work: string, ref: string | undefined, name: string): string {
  const outfile = path.join(work, `${name}.js`);
  let resolveDir = ROOT;
  if (ref) {
    resolveDir = path.join(work, `${name}-src`);
    fs.mkdirSync(resolveDir);
    const archive = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', ref, 'src'], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', resolveDir], { input: archive });
  }
  esbuild.buildSync({
    stdin: { contents: source, resolveDir, loader: 'ts', sourcefile: `${name}.ts` },
    nodePaths: [path.join(ROOT, 'node_modules')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    outfile,
    logLevel: 'error',
  });
  return outfile;
}
