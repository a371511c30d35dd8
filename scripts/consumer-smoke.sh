#!/usr/bin/env bash
# Consumer smoke test: the packed package, installed into a fresh app that nobody in this repository
# builds, must type-check strictly, synthesize, and run its CLI, on every supported Node.js.
#
#   bash scripts/consumer-smoke.sh [TARBALL]     (default: the one dist/js/cdk-byoc-artifacts*.tgz)
#
# Build the tarball first with `npx projen build` (or `npx projen compile && npx projen package:js`).
# The app is test/consumer/*.ts plus every TypeScript snippet of README.md: they import only from the
# package and its peers. Steps:
#   1. the tarball holds the compiled library, the .jsii assembly, both bundles and no sources;
#   2. npm install TARBALL with aws-cdk-lib, constructs, typescript and tsx into a temporary app;
#   3. tsc --noEmit with a strict tsconfig (skipLibCheck off) under each TypeScript in TS_VERSIONS;
#      then each README snippet synthesizes without cdk-ecr-deployment (an image build says how to
#      install it) and, where it builds an image, with it;
#   4. under each Node.js in NODE_VERSIONS: synthesize with tsx (tenant stack, install stack,
#      customer-ready install stack) and check the templates; run `npx cdk-byoc-artifacts --help`
#      and `lifecycle preview` on a fixture and check the result.
# Any mismatch exits non-zero. KEEP_APP=1 keeps the app directory for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# Supported Node.js lines (docs/install.md); each comes from the npm registry's `node` package.
NODE_VERSIONS=${NODE_VERSIONS:-"22 24"}
# TypeScript lines the app must type-check with: 5.9, the 6.0 this repository builds with, and 7.0
# (whose tsc works; it is ts-node that TypeScript 7 breaks, hence tsx).
TS_VERSIONS=${TS_VERSIONS:-"~5.9.3 $(node -p "require('./node_modules/typescript/package.json').version") ~7.0.2"}

start=$(date +%s)
step() { echo "::: consumer-smoke: $* ($(( $(date +%s) - start ))s)"; }
fail() { echo "consumer-smoke: FAILED: $*" >&2; exit 1; }

# --- 1. the tarball --------------------------------------------------------------------------------
if [ $# -ge 1 ]; then
  tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
  shopt -s nullglob
  tarballs=(dist/js/cdk-byoc-artifacts*.tgz)
  shopt -u nullglob
  [ ${#tarballs[@]} -eq 1 ] || fail "expected one dist/js/cdk-byoc-artifacts*.tgz, found ${#tarballs[@]}: run 'npx projen build' first, or pass the tarball"
  tarball=$repo/${tarballs[0]}
fi
[ -f "$tarball" ] || fail "no tarball at $tarball"
step "checking $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"

listing=$(tar -tzf "$tarball")
for wanted in package/package.json package/.jsii package/lib/index.js package/lib/index.d.ts \
  package/lib/customer-ready-synthesizer.d.ts package/assets/cli/index.js package/assets/image-sync.lambda/index.js \
  package/README.md package/LICENSE; do
  grep -qx "$wanted" <<<"$listing" || fail "the tarball lacks $wanted"
done
for unwanted in '^package/src/' '^package/test/' '^package/scripts/' '^package/examples/' '^package/lib/cli\.js$' '\.lambda\.js$' '^package/tsconfig'; do
  if grep -qE "$unwanted" <<<"$listing"; then
    fail "the tarball ships files it should not ($unwanted): $(grep -E "$unwanted" <<<"$listing" | head -3 | tr '\n' ' ')"
  fi
done
version=$(tar -xOzf "$tarball" package/package.json | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).version)')

# --- 2. a fresh app ------------------------------------------------------------------------------
app=$(mktemp -d "${TMPDIR:-/tmp}/cdk-byoc-consumer-XXXXXX")
cleanup() { if [ "${KEEP_APP:-}" = 1 ]; then echo "consumer-smoke: app kept in $app"; else rm -rf "$app"; fi; }
trap cleanup EXIT

installed() { node -p "require('./node_modules/$1/package.json').version"; }
cdk_version=$(installed aws-cdk-lib)
constructs_version=$(installed constructs)
tsx_version=$(installed tsx)

cp test/consumer/*.ts "$app/"
cp -r test/consumer/fixtures "$app/fixtures"
# Every TypeScript snippet of the README, as a program of its own (they are complete programs), and
# the Docker build context the tenant snippet names.
readme_snippets=$(node -e '
  const fs = require("fs");
  const blocks = [...fs.readFileSync("README.md", "utf8").matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  blocks.forEach((code, i) => fs.writeFileSync(`${process.argv[1]}/readme-${i + 1}.ts`, code));
  process.stdout.write(String(blocks.length));
' "$app")
[ "$readme_snippets" -gt 0 ] || fail "found no TypeScript snippet in README.md"
cp -r examples/component "$app/component"
cat >"$app/package.json" <<JSON
{ "name": "byoc-consumer-smoke", "version": "0.0.0", "private": true, "license": "UNLICENSED" }
JSON
# What a strict consumer project uses; skipLibCheck is off (stricter than 'cdk init') so the package's
# declarations are type-checked too. Not exactOptionalPropertyTypes: aws-cdk-lib's own declarations
# fail it when skipLibCheck is off.
cat >"$app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["es2022"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "noImplicitReturns": true,
    "noImplicitOverride": true,
    "noFallthroughCasesInSwitch": true,
    "noUncheckedIndexedAccess": true,
    "forceConsistentCasingInFileNames": true,
    "skipLibCheck": false,
    "types": ["node"],
    "noEmit": true
  },
  "include": ["*.ts"]
}
JSON

ts_packages=()
i=0
for ts in $TS_VERSIONS; do
  ts_packages+=("typescript-$i@npm:typescript@$ts")
  i=$((i + 1))
done
step "npm install the tarball (version $version) with aws-cdk-lib@$cdk_version constructs@$constructs_version tsx@$tsx_version typescript ${TS_VERSIONS}"
(cd "$app" && npm install --no-audit --no-fund --prefer-offline --loglevel=error \
  "$tarball" "aws-cdk-lib@$cdk_version" "constructs@$constructs_version" "tsx@$tsx_version" "@types/node@^22" \
  "${ts_packages[@]}") || fail "npm install of the tarball into a fresh app failed"
[ -x "$app/node_modules/.bin/cdk-byoc-artifacts" ] || fail "npm did not link the cdk-byoc-artifacts command"

# --- 3. strict type-check under each TypeScript ---------------------------------------------------
i=0
for ts in $TS_VERSIONS; do
  tsc_version=$(cd "$app" && node -p "require('typescript-$i/package.json').version")
  step "tsc --noEmit with TypeScript $tsc_version (strict, skipLibCheck off)"
  (cd "$app" && node "node_modules/typescript-$i/bin/tsc" -p tsconfig.json) || fail "the app does not type-check with TypeScript $tsc_version"
  i=$((i + 1))
done

# --- 3b. the README's snippets, without and then with the optional cdk-ecr-deployment --------------
# Install-only apps do not need cdk-ecr-deployment; a snippet that builds an image says how to get it.
step "synthesize the README's $readme_snippets snippets without cdk-ecr-deployment"
[ ! -e "$app/node_modules/cdk-ecr-deployment" ] || fail "npm installed the optional peer cdk-ecr-deployment unasked"
needs_ecr_deployment=()
for i in $(seq 1 "$readme_snippets"); do
  log=$app/readme-$i.log
  if (cd "$app" && CDK_OUTDIR="$app/readme-out/$i" npx --no-install tsx "readme-$i.ts") >"$log" 2>&1; then
    continue
  fi
  grep -q 'npm install cdk-ecr-deployment' "$log" || { cat "$log" >&2; fail "README snippet $i does not synthesize"; }
  needs_ecr_deployment+=("$i")
done
grep -q '"Custom::ImageSync"' "$app"/readme-out/*/*.template.json || fail "no README snippet synthesized an ImageSync"
if [ ${#needs_ecr_deployment[@]} -gt 0 ]; then
  ecr_deployment_version=$(installed cdk-ecr-deployment)
  step "npm install cdk-ecr-deployment@$ecr_deployment_version for README snippets ${needs_ecr_deployment[*]}"
  (cd "$app" && npm install --no-audit --no-fund --prefer-offline --loglevel=error "cdk-ecr-deployment@$ecr_deployment_version") \
    || fail "npm install cdk-ecr-deployment failed"
  for i in "${needs_ecr_deployment[@]}"; do
    (cd "$app" && CDK_OUTDIR="$app/readme-out/$i" npx --no-install tsx "readme-$i.ts") || fail "README snippet $i does not synthesize with cdk-ecr-deployment"
  done
fi

# --- 4. synthesize and run the CLI under each supported Node.js --------------------------------------
check_templates() {
  node - "$1" <<'NODE'
const fs = require('fs');
const path = require('path');
const out = process.argv[2];
const problems = [];
const read = (stack) => {
  const file = path.join(out, `${stack}.template.json`);
  if (!fs.existsSync(file)) { problems.push(`${stack}: no template at ${file}`); return { Resources: {} }; }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
};
const types = (t) => Object.values(t.Resources ?? {}).map((r) => r.Type);
const lambdaCodes = (t) => Object.values(t.Resources ?? {}).filter((r) => r.Type === 'AWS::Lambda::Function').map((r) => r.Properties.Code);

const tenant = read('ByocTenant');
for (const type of ['AWS::ECR::Repository', 'AWS::IAM::Role']) {
  if (!types(tenant).includes(type)) problems.push(`ByocTenant: no ${type}`);
}
const install = read('ByocInstall');
if (!types(install).includes('Custom::ImageSync')) problems.push('ByocInstall: no Custom::ImageSync');
if (!install.Parameters?.BootstrapVersion) problems.push('ByocInstall: the bootstrapped path lost its BootstrapVersion parameter');

const ready = read('ByocInstallCustomerReady');
const text = JSON.stringify(ready);
if (!types(ready).includes('Custom::ImageSync')) problems.push('ByocInstallCustomerReady: no Custom::ImageSync');
for (const bad of ['BootstrapVersion', 'hnb659fds', 'cdk-bootstrap', 'AWS::CDK::Metadata']) {
  if (text.includes(bad)) problems.push(`ByocInstallCustomerReady: the customer-ready template mentions ${bad}`);
}
const codes = lambdaCodes(ready);
if (codes.length === 0) problems.push('ByocInstallCustomerReady: no Lambda function');
for (const code of codes) {
  if (JSON.stringify(code.S3Bucket) !== JSON.stringify({ 'Fn::Sub': 'acme-byoc-assets-${AWS::Region}' }) || !/^byoc\/install\/[0-9a-f]{64}\.zip$/.test(code.S3Key)) {
    problems.push(`ByocInstallCustomerReady: Lambda code not in the vendor's regional bucket: ${JSON.stringify(code)}`);
  }
}
const assets = JSON.parse(fs.readFileSync(path.join(out, 'ByocInstallCustomerReady.assets.json'), 'utf8'));
const keys = new Set(Object.values(assets.files).flatMap((f) => Object.values(f.destinations).map((d) => d.objectKey)));
for (const code of codes) {
  if (!keys.has(code.S3Key)) problems.push(`ByocInstallCustomerReady: the asset manifest does not publish ${code.S3Key}`);
}
if (problems.length > 0) {
  console.error(problems.map((p) => `  - ${p}`).join('\n'));
  process.exit(1);
}
console.log(`templates OK: ${['ByocTenant', 'ByocInstall', 'ByocInstallCustomerReady'].map((s) => `${s} (${types(read(s)).length} resources)`).join(', ')}`);
NODE
}

check_preview() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const got = r.previewResults.map((x) => `${x.imageDigest.slice(7, 11)}:${x.action.type}:${x.appliedRulePriority}`).sort().join(",");
    const want = "1111:EXPIRE:1,4444:EXPIRE:2";
    if (got !== want) { console.error(`lifecycle preview: got ${got}, expected ${want}`); process.exit(1); }
    if (r.summary.expiringImageTotalCount !== 2) { console.error(`lifecycle preview summary: ${JSON.stringify(r.summary)}`); process.exit(1); }
  '
}

first_out=
for major in $NODE_VERSIONS; do
  node_bin=$(npx --yes -p "node@$major" node -p 'process.execPath') || fail "could not get Node.js $major from the npm registry"
  node_dir=$(dirname "$node_bin")
  node_version=$("$node_bin" --version)
  out=$app/cdk.out.node$major

  step "synthesize with tsx on Node.js $node_version"
  (cd "$app" && PATH="$node_dir:$PATH" CDK_OUTDIR="$out" npx --no-install tsx app.ts) || fail "synthesis failed on Node.js $node_version"
  check_templates "$out" || fail "the synthesized templates drifted (Node.js $node_version)"
  if [ -n "$first_out" ]; then
    for t in ByocTenant ByocInstall ByocInstallCustomerReady; do
      cmp -s "$first_out/$t.template.json" "$out/$t.template.json" || fail "$t.template.json differs between Node.js versions"
    done
  fi
  first_out=$out

  step "npx cdk-byoc-artifacts --help and lifecycle preview on Node.js $node_version"
  help=$(cd "$app" && PATH="$node_dir:$PATH" npx --no-install cdk-byoc-artifacts --help) || fail "cdk-byoc-artifacts --help exited non-zero"
  for usage in 'cdk-byoc-artifacts copy SRC DST' 'cdk-byoc-artifacts lifecycle preview POLICY.json IMAGES.json'; do
    grep -qF "$usage" <<<"$help" || fail "cdk-byoc-artifacts --help does not show '$usage'"
  done
  (cd "$app" && PATH="$node_dir:$PATH" npx --no-install cdk-byoc-artifacts lifecycle preview \
    fixtures/lifecycle-policy.json fixtures/describe-images.json --now 2026-06-01T00:00:00Z --json) | check_preview \
    || fail "cdk-byoc-artifacts lifecycle preview gave an unexpected result"
done

cleanup
trap - EXIT
step "passed: cdk-byoc-artifacts $version installs, type-checks with TypeScript ${TS_VERSIONS}, synthesizes and runs its CLI on Node.js ${NODE_VERSIONS}"
