import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';

// What ships is what works: an installed package has its dependencies and peer dependencies only.
// The copy engine, the handler and the CLI need devDependencies (the AWS SDK) and ship as bundles
// under assets/; their lib/ copies are left out of the package, and lib/index.js must never load them.

const ROOT = path.join(__dirname, '..');
const SRC = path.join(ROOT, 'src');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const installed = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
const optionalPeers = Object.entries(pkg.peerDependenciesMeta ?? {})
  .filter(([, meta]) => (meta as { optional?: boolean }).optional)
  .map(([name]) => name);
const ignored = fs.readFileSync(path.join(ROOT, '.npmignore'), 'utf8').split('\n').map(l => l.trim()).filter(l => l.startsWith('/lib/'));

/** The modules a source file loads at run time (`import type` and `export type` load nothing). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?'([^']+)';/gms)) {
    if (!m[1]) {
      specifiers.push(m[2]);
    }
  }
  return specifiers;
}

function resolveLocal(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  const file = [`${base}.ts`, path.join(base, 'index.ts')].find(f => fs.existsSync(f));
  if (!file) {
    throw new Error(`fails to resolve ${specifier} from ${path.relative(ROOT, from)}`);
  }
  return file;
}

/** Every source file the entry loads, following relative imports. */
function reachableFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) {
      return;
    }
    seen.add(file);
    importsOf(file).filter(s => s.startsWith('.')).forEach(s => visit(resolveLocal(file, s)));
  };
  visit(entry);
  return seen;
}

/** The package a bare specifier names: `@scope/name` or `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The lib/ path of a source file, as the package would hold it. */
function libPath(file: string): string {
  return '/lib/' + path.relative(SRC, file).split(path.sep).join('/').replace(/\.ts$/, '.js');
}

/** Whether an .npmignore line of the shapes used here (`/lib/dir/`, `/lib/**\/*.suffix`, `/lib/file`) leaves a lib file out. */
function isIgnored(lib: string): boolean {
  return ignored.some(pattern => {
    if (pattern.endsWith('/')) {
      return lib.startsWith(pattern);
    }
    if (pattern.startsWith('/lib/**/*')) {
      return lib.endsWith(pattern.slice('/lib/**/*'.length));
    }
    return lib === pattern;
  });
}

function allSourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? allSourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('the npm package', () => {
  const api = reachableFrom(path.join(SRC, 'index.ts'));

  test('loads nothing but its dependencies, peer dependencies and Node.js built-ins from lib/index.js', () => {
    const missing = [...api].flatMap(file => importsOf(file)
      .filter(s => !s.startsWith('.'))
      .filter(s => !builtinModules.includes(s.replace(/^node:/, '')) && !installed.has(packageOf(s)))
      .map(s => `${path.relative(ROOT, file)} imports ${s}`));

    expect(missing).toEqual([]);
  });

  test('loads no optional peer dependency when lib/index.js is loaded (only on first use)', () => {
    const eager = [...api].flatMap(file => importsOf(file)
      .filter(s => optionalPeers.includes(packageOf(s)))
      .map(s => `${path.relative(ROOT, file)} imports ${s}`));

    expect(optionalPeers).toEqual(['cdk-ecr-deployment']);
    expect(eager).toEqual([]);
  });

  test('never loads a file it leaves out from lib/index.js', () => {
    const leftOut = [...api].filter(file => isIgnored(libPath(file))).map(file => path.relative(ROOT, file));

    expect(leftOut).toEqual([]);
  });

  test('leaves out every lib/ file that needs a devDependency', () => {
    const shippedButBroken = allSourceFiles(SRC)
      .filter(file => importsOf(file).some(s => !s.startsWith('.') && !builtinModules.includes(s.replace(/^node:/, '')) && !installed.has(packageOf(s))))
      .filter(file => !isIgnored(libPath(file)))
      .map(file => path.relative(ROOT, file));

    expect(shippedButBroken).toEqual([]);
  });

  test('leaves out the copy engine, the handler and the CLI, which ship as bundles', () => {
    expect(['/lib/sync/copy.js', '/lib/image-sync-handler/handler.js', '/lib/cli/index.js', '/lib/image-sync.lambda.js'].filter(f => !isIgnored(f))).toEqual([]);
    expect(pkg.bin).toEqual({ 'cdk-byoc-artifacts': 'assets/cli/index.js' });
  });
});
