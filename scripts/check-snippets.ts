/**
 * Type-checks and translates every TypeScript snippet of README.md and docs/*.md with
 * jsii-rosetta in strict mode, against the compiled package (run after `projen compile`).
 *
 * jsii-rosetta reads snippets from an assembly's README only, so this builds a scratch copy of
 * the package whose README is README.md followed by every page of docs/, and extracts from it.
 * Fixtures come from rosetta/ (default.ts-fixture unless a snippet names another).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const scratch = path.join(root, '.rosetta-check');

function main(): number {
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
  const docs = fs.readdirSync(path.join(root, 'docs')).filter(f => f.endsWith('.md')).sort();
  const pages = [fs.readFileSync(path.join(root, 'README.md'), 'utf8')];
  for (const doc of docs) {
    pages.push(`\n<!-- docs/${doc} -->\n\n${fs.readFileSync(path.join(root, 'docs', doc), 'utf8')}`);
  }
  assembly.readme = { markdown: pages.join('\n') };
  // The assembly's fingerprint covers its content; rosetta does not validate it unless asked.
  fs.writeFileSync(path.join(scratch, '.jsii'), JSON.stringify(assembly));
  fs.copyFileSync(path.join(root, 'package.json'), path.join(scratch, 'package.json'));
  fs.symlinkSync(path.join(root, 'lib'), path.join(scratch, 'lib'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  fs.cpSync(path.join(root, 'rosetta'), path.join(scratch, 'rosetta'), { recursive: true });

  const result = spawnSync('npx', ['jsii-rosetta', 'extract', '--strict', scratch], { cwd: root, encoding: 'utf8' });
  const output = `${result.stdout}${result.stderr}`.split('\n').filter(line => !line.startsWith('!!')).join('\n');
  if (result.status !== 0) {
    process.stderr.write(output);
    process.stderr.write('\nA snippet of README.md or docs/ does not compile (pages after README.md are marked <!-- docs/NAME.md -->;\n' +
      'the L number counts lines of README.md followed by docs/ in name order). Fix the snippet, or give it a fixture from rosetta/.\n');
    return 1;
  }
  const count = (assembly.readme.markdown.match(/^```ts\b/gm) ?? []).length;
  process.stdout.write(`${count} TypeScript snippets of README.md and docs/ compile and translate (jsii-rosetta --strict)\n`);
  fs.rmSync(scratch, { recursive: true, force: true });
  return 0;
}

process.exitCode = main();
