/**
 * The whole flow on one machine, offline:
 *   1. synthesize the example tenant and install apps into cdk.out/ and list what they deploy;
 *   2. run a release the way the install account's ImageSync does: two local registries stand in
 *      for the tenant's and the install's ECR, a sample image is pushed to the tenant one, and the
 *      custom resource handler (the Lambda's code path: onEvent, then isComplete) copies it;
 *   3. a second release with one changed layer: only that layer (and the new config) is copied;
 *   4. the same release again: nothing is copied.
 * AWS APIs (STS AssumeRole, ECR GetAuthorizationToken) are answered locally; nothing leaves 127.0.0.1.
 *
 * Run: npm run demo   (or: npx tsx scripts/demo.ts, after `npx projen bundle`)
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { App } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import { synthCustomerReadyInstall } from './customer-ready';
import { buildInstallApp, TENANT_ACCESS_ROLE_ARN } from '../examples/install-app';
import { buildTenantApp, EXTERNAL_ID } from '../examples/tenant-app';
import { Attributes, IMAGE_SYNC_RESOURCE_TYPE, Props, SourceKinds } from '../src/image-sync-contract';
import { HandlerDependencies } from '../src/image-sync-handler/dependencies';
import { handleEvent, IsCompleteResponse, OnEventResponse } from '../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../src/image-sync-handler/request';
import { createDependencies } from '../src/image-sync.lambda';
import { BuiltImage, buildImage, expectImage, pushImage, readManifest } from '../test/support/images';
import { startRegistry, stopAll, TestRegistry } from '../test/support/registry';

const ROOT = path.join(__dirname, '..');
const TENANT_HOST = '111111111111.dkr.ecr.eu-west-1.amazonaws.com';
const INSTALL_HOST = '222222222222.dkr.ecr.eu-west-1.amazonaws.com';
const TENANT_REPO = 'acme/component';
const INSTALL_REPO = 'acme/install';
const SESSION_KEY = 'ASIADEMOPULLSESSION0';
// Four layers like a small service image: base, runtime, dependencies, application.
const LAYER_SIZES = [6 * 1024 * 1024, 3 * 1024 * 1024, 2 * 1024 * 1024, 512 * 1024];

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const short = (digest: string) => `${digest.slice(0, 19)}…`;

async function main(): Promise<void> {
  const started = Date.now();
  // The handler's clients must never look for real credentials (no instance metadata calls).
  process.env.AWS_ACCESS_KEY_ID = 'AKIADEMOFUNCTIONROLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'demo-only';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';

  console.log(bold('\n1. Synthesize the example apps'));
  synthesize('tenant', (outdir) => buildTenantApp(outdir).app);
  synthesize('install', (outdir) => buildInstallApp(outdir).app);
  const ready = synthCustomerReadyInstall(path.join(ROOT, 'cdk.out', 'install-customer-ready'));
  console.log(`   install, customer-ready (no CDK bootstrap in the customer's account): ${path.relative(ROOT, ready.templateFile)}`);
  console.log(dim(`     Lambda code from ${Object.values(ready.buckets).join(', ')}; what to publish: ${path.relative(ROOT, ready.assetManifestFile)}`));

  console.log(bold('\n2. Release 1.0.0: tenant ECR -> install ECR through the ImageSync handler'));
  const [tenant, install] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'basic' })]);
  console.log(`   tenant ECR  ${TENANT_HOST} -> local registry ${tenant.host} (basic auth, like ECR's AWS:<token>)`);
  console.log(`   install ECR ${INSTALL_HOST} -> local registry ${install.host}`);
  const aws = fakeAws(tenant, install);
  const deps = createDependencies({
    region: 'eu-west-1',
    dial: (registry) => ({ [TENANT_HOST]: tenant.host, [INSTALL_HOST]: install.host }[registry] ?? registry),
    log: (message) => console.log(dim(`     handler: ${message}`)),
  });

  const v1 = buildImage({ layers: LAYER_SIZES, platform: 'linux/arm64' });
  await pushImage(tenant, TENANT_REPO, '1.0.0', v1);
  console.log(`   pushed ${TENANT_REPO}:1.0.0 to the tenant registry: ${short(v1.digest)}, ${v1.blobs.size} blobs, ${mib(blobBytes(v1))}`);

  const first = await release(deps, 'Create', '1.0.0', 'r-1');
  check(first.result.Data![Attributes.IMAGE_DIGEST] === v1.digest, 'the install digest equals the tenant digest');
  await expectImage(install, INSTALL_REPO, '1.0.0', v1);
  check(true, 'the install registry holds every blob and the manifest byte for byte');
  check(aws.assumeRoleCalls() === 1, `one 900-second pull session of ${TENANT_ACCESS_ROLE_ARN}, scoped to ${TENANT_REPO}`);

  console.log(bold('\n3. Release 1.1.0: the application layer changed'));
  const v2 = withChangedLayer(v1, LAYER_SIZES.length - 1);
  await pushImage(tenant, TENANT_REPO, '1.1.0', v2);
  console.log(`   pushed ${TENANT_REPO}:1.1.0: ${short(v2.digest)}, shares ${LAYER_SIZES.length - 1} of ${LAYER_SIZES.length} layers with 1.0.0`);
  const second = await release(deps, 'Update', '1.1.0', 'r-2', first.result.PhysicalResourceId);
  const copied = Number(second.result.Data![Attributes.BLOBS_COPIED]);
  check(second.result.Data![Attributes.IMAGE_DIGEST] === v2.digest, 'the install digest equals the tenant digest');
  check(copied === 2 && Number(second.result.Data![Attributes.BLOBS_SKIPPED]) === LAYER_SIZES.length - 1,
    `copied only the changed layer and the new config (${copied} blobs, ${mib(Number(second.result.Data![Attributes.BYTES_COPIED]))}); skipped ${LAYER_SIZES.length - 1} layers`);
  check((await readManifest(install, INSTALL_REPO, '1.0.0'))?.digest === v1.digest, 'release 1.0.0 is still in the install repository for running workloads');

  console.log(bold('\n4. Release 1.1.0 again (a stack update that changes nothing in the image)'));
  const third = await release(deps, 'Update', '1.1.0', 'r-2b', second.result.PhysicalResourceId);
  check(third.result.Data![Attributes.BYTES_COPIED] === '0', 'nothing copied: the destination already holds the digest under the tag');
  check(third.result.PhysicalResourceId === second.result.PhysicalResourceId, 'the physical id is unchanged');

  aws.restore();
  console.log(bold(`\nDemo complete in ${((Date.now() - started) / 1000).toFixed(1)} s.`));
}

/** Synthesizes one example app into cdk.out/<name> and lists each stack's resources. */
function synthesize(name: string, build: (outdir: string) => App): void {
  const outdir = path.join(ROOT, 'cdk.out', name);
  fs.rmSync(outdir, { recursive: true, force: true });
  const t0 = Date.now();
  const assembly = build(outdir).synth();
  // The apps register cdk-nag's AwsSolutions checks: synthesis writes their report here.
  const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
  if (report.pluginReports?.length) {
    throw new Error(`cdk-nag reported findings for the ${name} app: ${JSON.stringify(report.pluginReports).slice(0, 2000)}`);
  }
  for (const stack of assembly.stacks) {
    const resources = Object.entries(stack.template.Resources ?? {}) as [string, { Type: string }][];
    console.log(`   ${bold(stack.stackName)} (${stack.environment.account}/${stack.environment.region}): ` +
      `${resources.length} resources, cdk-nag AwsSolutions clean, ${path.relative(ROOT, outdir)}/${stack.templateFile} in ${Date.now() - t0} ms`);
    resources
      .sort(([a, ra], [b, rb]) => ra.Type.localeCompare(rb.Type) || a.localeCompare(b))
      .forEach(([logicalId, r]) => console.log(dim(`     ${r.Type.padEnd(36)} ${logicalId}`)));
  }
}

interface ReleaseOutcome {
  readonly onEvent: OnEventResponse;
  readonly result: IsCompleteResponse;
}

/** Runs one CloudFormation request through the handler as the provider framework does. */
async function release(deps: HandlerDependencies, requestType: 'Create' | 'Update', tag: string, releaseId: string, physicalResourceId?: string): Promise<ReleaseOutcome> {
  const event: ImageSyncEvent = {
    RequestType: requestType,
    RequestId: crypto.randomUUID(),
    StackId: 'arn:aws:cloudformation:eu-west-1:222222222222:stack/ByocInstall/demo',
    LogicalResourceId: 'ComponentImageSync',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    PhysicalResourceId: physicalResourceId,
    ResponseURL: 'https://example.invalid/never-called',
    ResourceProperties: {
      [Props.SOURCE_KIND]: SourceKinds.TENANT_ECR,
      [Props.SOURCE_IMAGE]: `${TENANT_HOST}/${TENANT_REPO}:${tag}`,
      [Props.SOURCE_REPOSITORY_ARN]: `arn:aws:ecr:eu-west-1:111111111111:repository/${TENANT_REPO}`,
      [Props.ACCESS_ROLE_ARN]: TENANT_ACCESS_ROLE_ARN,
      [Props.EXTERNAL_ID]: EXTERNAL_ID,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${INSTALL_REPO}`,
      [Props.DESTINATION_REPOSITORY_NAME]: INSTALL_REPO,
      [Props.DESTINATION_TAG]: tag,
      [Props.RELEASE_ID]: releaseId,
      [Props.REMOVE_ON_DELETE]: 'false',
      [Props.TOTAL_TIMEOUT_SECONDS]: '3600',
    },
  };
  const t0 = process.hrtime.bigint();
  const remaining = () => 14 * 60_000;
  const onEvent = await handleEvent(event, deps, remaining) as OnEventResponse;
  let result: IsCompleteResponse = { IsComplete: false };
  for (let poll = 1; !result.IsComplete; poll++) {
    if (poll > 10) throw new Error('the copy did not complete in 10 polls');
    result = await handleEvent({ ...event, ...onEvent }, deps, remaining) as IsCompleteResponse;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const d = result.Data!;
  const mibPerSecond = Number(d[Attributes.BYTES_COPIED]) / 1024 / 1024 / seconds;
  console.log(`   ${requestType} ${releaseId}: ${bold(d[Attributes.IMAGE_URI])}`);
  console.log(`     digest ${d[Attributes.IMAGE_DIGEST]}`);
  console.log(`     copied ${d[Attributes.BLOBS_COPIED]} blobs, ${mib(Number(d[Attributes.BYTES_COPIED]))}; skipped ${d[Attributes.BLOBS_SKIPPED]}; ` +
    `${seconds.toFixed(2)} s${Number(d[Attributes.BYTES_COPIED]) > 0 ? ` (${mibPerSecond.toFixed(0)} MiB/s)` : ''}`);
  console.log(dim(`     physical id ${result.PhysicalResourceId}`));
  return { onEvent, result };
}

/** Answers STS and ECR locally: the pull session's ECR token opens the tenant registry, the function's the install one. */
function fakeAws(tenant: TestRegistry, install: TestRegistry): { assumeRoleCalls(): number; restore(): void } {
  const sts = mockClient(STSClient);
  const ecr = mockClient(ECRClient);
  sts.on(AssumeRoleCommand).callsFake(async (input) => {
    // What the tenant's role trust and IAM would enforce: the external id, and a session policy
    // that reads the one repository.
    const policy = JSON.parse(input.Policy ?? '{}');
    const scoped = policy.Statement?.some((st: { Resource?: string }) => st.Resource === `arn:aws:ecr:eu-west-1:111111111111:repository/${TENANT_REPO}`);
    if (input.ExternalId !== EXTERNAL_ID || input.RoleArn !== TENANT_ACCESS_ROLE_ARN || input.DurationSeconds !== 900 || !scoped) {
      throw Object.assign(new Error('not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' });
    }
    return { Credentials: { AccessKeyId: SESSION_KEY, SecretAccessKey: 'demo', SessionToken: 'demo', Expiration: new Date(Date.now() + 900_000) } };
  });
  ecr.on(GetAuthorizationTokenCommand).callsFake(async (_input, getClient) => {
    const credentials = await (getClient().config.credentials as () => Promise<{ accessKeyId: string }>)();
    const registry = credentials.accessKeyId === SESSION_KEY ? tenant : install;
    const token = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
    return { authorizationData: [{ authorizationToken: token, expiresAt: new Date(Date.now() + 12 * 3600_000) }] };
  });
  return {
    assumeRoleCalls: () => sts.commandCalls(AssumeRoleCommand).length,
    restore: () => {
      sts.restore();
      ecr.restore();
    },
  };
}

/** The next release of an image: the same layers but one, so a new config and manifest. */
function withChangedLayer(previous: BuiltImage, index: number): BuiltImage {
  const fresh = buildImage({ layers: LAYER_SIZES, platform: previous.platform });
  const manifest = JSON.parse(previous.manifest.toString('utf8'));
  const freshManifest = JSON.parse(fresh.manifest.toString('utf8'));
  const config = JSON.parse(previous.blobs.get(manifest.config.digest)!.toString('utf8'));
  const freshConfig = JSON.parse(fresh.blobs.get(freshManifest.config.digest)!.toString('utf8'));
  config.rootfs.diff_ids[index] = freshConfig.rootfs.diff_ids[index];
  const configBytes = Buffer.from(JSON.stringify(config));
  const layers = [...manifest.layers];
  layers[index] = freshManifest.layers[index];
  const configDescriptor = { ...manifest.config, digest: sha256(configBytes), size: configBytes.length };
  const bytes = Buffer.from(JSON.stringify({ ...manifest, config: configDescriptor, layers }, null, 3));
  const blobs = new Map<string, Buffer>();
  for (const layer of layers) {
    blobs.set(layer.digest, previous.blobs.get(layer.digest) ?? fresh.blobs.get(layer.digest)!);
  }
  blobs.set(sha256(configBytes), configBytes);
  return { ...previous, manifest: bytes, digest: sha256(bytes), blobs };
}

function blobBytes(img: BuiltImage): number {
  return [...img.blobs.values()].reduce((n, b) => n + b.length, 0);
}

function sha256(data: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
}

function check(ok: boolean, what: string): void {
  if (!ok) {
    throw new Error(`check failed: ${what}`);
  }
  console.log(`   ✔ ${what}`);
}

main()
  .then(async () => {
    await stopAll();
  })
  .catch(async (e) => {
    console.error(`\ndemo failed: ${(e as Error).stack ?? e}`);
    await stopAll();
    process.exitCode = 1;
  });
