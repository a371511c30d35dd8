#!/usr/bin/env bash
# Refreshes src/sync/sigstore-trusted-root.ts, the Sigstore public-good trusted root the copy
# engine verifies bundles against, from the seed that @sigstore/tuf ships (seeds.json,
# targets["trusted_root.json"], base64). Usage: bash scripts/refresh-trusted-root.sh [VERSION]
# Review the diff (new Fulcio CAs, Rekor logs, TSAs and their validity) before committing.
set -euo pipefail
version="${1:-latest}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "@sigstore/tuf@$version" --silent >/dev/null && tar xzf ./*.tgz)
node - "$work/package" "$root/src/sync/sigstore-trusted-root.ts" <<'JS'
const fs = require('fs');
const [pkgDir, out] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(`${pkgDir}/package.json`, 'utf8'));
const seeds = JSON.parse(fs.readFileSync(`${pkgDir}/seeds.json`, 'utf8'));
const seed = seeds['https://tuf-repo-cdn.sigstore.dev'];
const root = JSON.parse(Buffer.from(seed.targets['trusted_root.json'], 'base64').toString('utf8'));
const date = new Date().toISOString().slice(0, 10);
// A TS literal in the project's style: unquoted keys, single quotes, trailing commas.
const literal = (v, indent = '') => {
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    return v.length === 0 ? '[]' : `[\n${v.map(x => `${inner}${literal(x, inner)},\n`).join('')}${indent}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    const key = k => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`);
    return entries.length === 0 ? '{}' : `{\n${entries.map(([k, x]) => `${inner}${key(k)}: ${literal(x, inner)},\n`).join('')}${indent}}`;
  }
  return typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(v);
};
fs.writeFileSync(out, [
  '/**',
  ' * The Sigstore public-good trusted root (Fulcio CAs, Rekor logs, CT logs, timestamp',
  ' * authorities, each with its validity), pinned in the package: bundles are verified offline',
  ` * against it. Taken on ${date} from @sigstore/tuf ${pkg.version} (seeds.json,`,
  ' * targets["trusted_root.json"]); refresh with `bash scripts/refresh-trusted-root.sh`.',
  ' * Generated: do not edit by hand.',
  ' */',
  `export const PUBLIC_GOOD_TRUSTED_ROOT_SOURCE = '@sigstore/tuf ${pkg.version}, taken ${date}';`,
  '',
  `export const PUBLIC_GOOD_TRUSTED_ROOT = ${literal(root)};`,
  '',
].join('\n'));
console.log(`wrote ${out} from @sigstore/tuf ${pkg.version}`);
JS
