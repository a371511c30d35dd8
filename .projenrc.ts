import { awscdk, javascript, release } from 'projen';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-byoc-artifacts',
  description:
    'Bring-your-own-cloud artifact replication for AWS CDK: a tenant ECR, a cross-account pull role, ' +
    'install ECRs with lifecycle policies, and a custom resource that copies each release by digest.',
  author: 'cdk-byoc-artifacts maintainers',
  authorAddress: 'maintainers@cdk-byoc-artifacts.dev',
  repositoryUrl: 'https://github.com/cdk-byoc-artifacts/cdk-byoc-artifacts.git',
  keywords: ['aws-cdk', 'ecr', 'byoc', 'oci', 'replication', 'helm', 'container-registry'],
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',

  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  sampleCode: false,
  // TypeScript 7 breaks ts-node, ts-jest and typescript-eslint: stay on 6.
  typescriptVersion: '~6.0.3',
  jsiiVersion: '~6.0.0',
  cdkVersion: '2.276.0',
  constructsVersion: '10.8.1',
  minNodeVersion: '22.0.0',

  github: false,
  // Releases are cut by hand from this repository: `npx projen release`, then one publish:* task per
  // registry (docs/releasing.md). The version is the newest entry of the hand-written CHANGELOG.md.
  release: true,
  releaseTrigger: release.ReleaseTrigger.manual({ changelog: true, changelogPath: 'CHANGELOG.md' }),
  majorVersion: 0,
  nextVersionCommand: 'bash scripts/next-version.sh',
  depsUpgrade: false,
  pullRequestTemplate: false,

  peerDeps: ['cdk-ecr-deployment@^4.2.65'],
  devDeps: [
    // The copy engine's only dependencies. The Lambda and the CLI ship as esbuild bundles that
    // contain them (assets/), so the package itself depends on nothing but the CDK.
    '@aws-sdk/client-ecr',
    // The deploy-time push of a chart or bundle packed at synth reads its archive asset from S3.
    '@aws-sdk/client-s3',
    '@aws-sdk/client-sts',
    '@types/node@^22',
    '@aws-sdk/client-secrets-manager',
    // The CLI's `sync` reads YAML configs; bundled into the CLI (already in the tree through projen).
    'yaml@^2.9.1',
    // Sigstore bundle verification (src/sync/sigstore.ts), bundled into the Lambda and into a CLI
    // side bundle. The 3.x line: 4.x needs Node 22.22, the tests run on Node 20.
    '@sigstore/verify@^3.1.1',
    '@sigstore/bundle@^4.0.0',
    '@sigstore/core@^3.2.1',
    '@sigstore/protobuf-specs@^0.5.1',
    // The test bed's Fulcio CA, CT log and Rekor log for per-run bundles (only their signing
    // primitives are used: none of its HTTP interceptors).
    '@sigstore/mock@0.12.1',
    'aws-sdk-client-mock@^4.1.0',
    'cdk-nag@^3.0.2',
    'aws-cdk@^2.1148.1',
    'tsx@^4.23.0',
    'esbuild@^0.28.0',
    'jsii-pacmak',
  ],

  lambdaOptions: {
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
    // Bundle the AWS SDK clients instead of relying on the runtime's copy: pinned versions.
    bundlingOptions: { externals: [], sourcemap: false },
  },
  lambdaAutoDiscover: true,

  publishToPypi: { distName: 'cdk-byoc-artifacts', module: 'cdk_byoc_artifacts' },
  publishToMaven: {
    javaPackage: 'dev.cdkbyocartifacts',
    mavenGroupId: 'dev.cdk-byoc-artifacts',
    mavenArtifactId: 'cdk-byoc-artifacts',
  },
  publishToNuget: { dotNetNamespace: 'CdkByocArtifacts', packageId: 'CdkByocArtifacts' },
  publishToGo: { moduleName: 'github.com/cdk-byoc-artifacts/cdk-byoc-artifacts-go' },

  gitignore: ['cdk.out/', '/.bench/', '/.demo/', '/dist-code/', '/.rosetta-check/', '.jsii.tabl.json'],
  npmIgnoreOptions: { ignorePatterns: ['/rosetta/', '/.rosetta-check/', '/examples/', '/.ci/', '/scripts/', '/.bench/', '/.demo/', '/dist-code/', '/cdk.out/', '/cdk.json'] },

  jestOptions: {
    jestConfig: {
      testTimeout: 120_000,
      // Registry-backed suites start processes; two workers match the machine.
      maxWorkers: 2,
    },
  },
  tsconfigDevFile: 'tsconfig.dev.json',
  // One typed-lint project for src, test, examples and scripts: the dev tsconfig includes them all.
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'examples', 'scripts'],
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
  },
  tsconfigDev: {
    include: ['examples/**/*.ts', 'scripts/**/*.ts', '.projenrc.ts'],
    compilerOptions: {},
  },
});

// Only TenantImage needs cdk-ecr-deployment (about 50 MB with its Go handler): install-only apps
// and CLI users leave it out. The construct loads it on first use and says how to install it.
project.package.addField('peerDependenciesMeta', { 'cdk-ecr-deployment': { optional: true } });

// unrs-resolver 1.13.0's platform builds are missing from the registry mirror; 1.12.2 is complete.
project.package.addPackageResolutions('unrs-resolver@1.12.2');

// What ships is what works: the package's API is lib/index.js and what it requires. The copy engine,
// the ImageSync handler and the CLI run only as the esbuild bundles under assets/ (they carry the
// AWS SDK clients, devDependencies here); their unbundled lib/ copies could not be required from an
// installed package, so they stay out of it.
project.npmignore?.addPatterns(
  '/lib/**/*.lambda.js', '/lib/**/*.lambda.d.ts',
  '/lib/sync/', '/lib/image-sync-handler/', '/lib/cli/',
);

// The CLI runs the copy engine on a laptop or in CI: one self-contained file, like the Lambda.
project.bundler.addBundle('./src/cli/index.ts', {
  platform: 'node',
  target: 'node20',
  // Peer dependencies, installed beside the package (the lifecycle model uses Duration and Token).
  // @aws-sdk/client-ecr and yaml: side bundles, see below.
  externals: ['aws-cdk-lib', 'constructs', '@aws-sdk/client-ecr', 'yaml'],
  sourcemap: false,
  executable: true,
  // The bundler names the output after the entry (assets/cli/index/index.js); keep the bin where it was.
  outfile: '../index.js',
});
project.addBins({ 'cdk-byoc-artifacts': 'assets/cli/index.js' });
// Side bundles (src/cli/side-bundle.ts): the AWS SDK for ECR logins, the YAML parser for `sync` and
// the Sigstore bundle verifier (@sigstore/*, with the pinned trusted root),
// each in a file of its own that the CLI reads only when a run needs it; parsing them took longer
// than the rest of the CLI's start-up.
for (const side of ['ecr-sdk', 'yaml', 'sigstore']) {
  project.bundler.addBundle(`./src/cli/${side}.ts`, {
    platform: 'node',
    target: 'node20',
    sourcemap: false,
    outfile: `../${side}.js`,
  });
}
// The Lambda entry (allowed by projen) and the CLI build the AWS SDK clients the bundles carry; the
// engine and the handler take narrow functions instead and import no SDK.
project.eslint?.allowDevDeps('src/cli/**');
// The Sigstore verifier: bundled into the Lambda and the CLI's side bundle, never required from lib/.
project.eslint?.allowDevDeps('src/sync/sigstore-verify.ts');

project.eslint?.allowDevDeps('examples/**');
// The consumer app (test/consumer/) imports the package by name, as its users do: in this repository
// the name means src/, so tsc and eslint check the app against the source; the consumer smoke test
// checks it against the packed package.
project.tsconfigDev.file.addOverride('compilerOptions.paths', { 'cdk-byoc-artifacts': ['./src/index.ts'] });
project.eslint?.allowDevDeps('scripts/**');

// `projen test` does not run pre-compile, where the Lambda bundles are built: bundle first,
// and make sure the registry binaries the copy-engine tests need are present.
project.testTask.prependSpawn(project.bundler.bundleTask);
project.testTask.prependExec('bash scripts/ensure-tools.sh');

const cdkEnv = { CDK_DISABLE_VERSION_CHECK: '1', CI: 'true' };
project.addTask('demo', {
  description: 'Synthesize the example tenant and install apps, then run a local release sync between two registries',
  env: cdkEnv,
  steps: [
    { exec: 'bash scripts/ensure-tools.sh' },
    { spawn: 'bundle' },
    { exec: 'tsx scripts/demo.ts' },
  ],
});
project.addTask('bench', {
  description: 'Benchmark the copy engine against skopeo on two local registries',
  steps: [{ exec: 'bash scripts/ensure-tools.sh' }, { exec: 'tsx scripts/bench.ts', receiveArgs: true }],
});
project.addTask('simulate', {
  description: 'Fan-out simulation: N installs sync one release through the ImageSync handler while a throttling front enforces ECR quotas (docs/scaling.md)',
  steps: [{ exec: 'bash scripts/ensure-tools.sh' }, { exec: 'tsx scripts/simulate.ts', receiveArgs: true }],
});
project.addTask('consumer-smoke', {
  description: 'Install the packed package (dist/js) into a fresh strict TypeScript app: type-check, synthesize and run its CLI on Node.js 22 and 24',
  exec: 'bash scripts/consumer-smoke.sh',
  receiveArgs: true,
});
const pacmakCheck = project.addTask('pacmak-check', {
  description: 'Generate Python, Java, .NET and Go code offline to prove the API is jsii-clean for every target',
  exec: 'rm -rf dist-code && jsii-pacmak --code-only --outdir dist-code --targets python java dotnet go',
});

// Every TypeScript snippet of README.md and docs/ compiles (jsii-rosetta --strict) and translates.
const checkSnippets = project.addTask('check-snippets', {
  description: 'Type-check and translate every TypeScript snippet of README.md and docs/ with jsii-rosetta --strict',
  exec: 'tsx scripts/check-snippets.ts',
});
project.postCompileTask.spawn(checkSnippets);

// Building the Python, Java and .NET packages needs PyPI, Maven Central and NuGet. `build` packages
// the npm tarball and generates every other target's code offline, which is what jsii can check
// without those registries; `npm run package-all` still builds every package where they are reachable.
const packageTask = project.tasks.tryFind('package')!;
packageTask.reset();
packageTask.spawn(project.tasks.tryFind('package:js')!);
packageTask.spawn(pacmakCheck);

// A release builds every registry's package while the version is bumped (the build above packages
// npm only and generates the other targets' code): Python, Java, .NET and Go need their toolchains.
const releaseTask = project.tasks.tryFind('release')!;
releaseTask.insertStep(releaseTask.steps.findIndex((s) => s.spawn === 'build') + 1, { spawn: 'package-all' });
// projen writes its publish tasks only into a hosted release workflow, which this repository does not
// use: the same publib commands, one task per registry, each with that registry's credentials in the
// environment. They publish what `release` left under dist/.
const publishers: Array<[string, string, string, Record<string, string>, string[]]> = [
  ['npm', 'npm', 'publib-npm', { NPM_DIST_TAG: 'latest', NPM_REGISTRY: 'registry.npmjs.org' }, ['NPM_TOKEN']],
  ['pypi', 'PyPI', 'publib-pypi', {}, ['TWINE_USERNAME', 'TWINE_PASSWORD']],
  ['maven', 'Maven Central', 'publib-maven', { MAVEN_SERVER_ID: 'central-ossrh' },
    ['MAVEN_GPG_PRIVATE_KEY', 'MAVEN_GPG_PRIVATE_KEY_PASSPHRASE', 'MAVEN_PASSWORD', 'MAVEN_USERNAME', 'MAVEN_STAGING_PROFILE_ID']],
  ['nuget', 'NuGet Gallery', 'publib-nuget', {}, ['NUGET_API_KEY']],
  ['golang', 'the Go module repository github.com/cdk-byoc-artifacts/cdk-byoc-artifacts-go', 'publib-golang', {}, ['GITHUB_TOKEN']],
];
for (const [name, registry, command, env, requiredEnv] of publishers) {
  project.addTask(`publish:${name}`, {
    description: `Publish the release under dist/ to ${registry}`,
    env,
    requiredEnv,
    exec: `npx --yes -p publib@latest ${command}`,
  });
}

project.synth();
