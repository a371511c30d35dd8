import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildInstallApp, PROXY_IMAGE, TENANT_ACCESS_ROLE_ARN, TENANT_REPOSITORY_URI, WORKER_DIGEST, WORKER_TAG } from '../../examples/install-app';
import { COMPONENT_TAG, EXTERNAL_ID } from '../../examples/tenant-app';
import { runBundledCli } from '../support/cli';
import { generateHistory, imagesOf } from '../support/release-history';

const cli = (args: string[]) => runBundledCli(args);

describe('examples/install-app', () => {
  let outdir: string;
  beforeEach(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'install-app-'));
  });
  afterEach(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    const { stack } = buildInstallApp(outdir);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('synthesizes with the AwsSolutions plugin registered on the app and an empty report', () => {
    const { app } = buildInstallApp(outdir);
    const assembly = app.synth();
    expect(assembly.getStackByName('ByocInstall').template.Resources).toBeDefined();
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  });

  test('syncs three components into one install repository, each under its own release family', () => {
    const { stack } = buildInstallApp(outdir);
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::ECR::Repository', 1);
    template.hasResourceProperties('Custom::ImageSync', {
      SourceKind: 'TenantEcr',
      SourceImage: `${TENANT_REPOSITORY_URI}:${COMPONENT_TAG}`,
      AccessRoleArn: TENANT_ACCESS_ROLE_ARN,
      ExternalId: EXTERNAL_ID,
      DestinationTag: `api_${COMPONENT_TAG}`,
      Platforms: ['linux/amd64', 'linux/arm64'],
      ReleaseId: `component-${COMPONENT_TAG}`,
    });
    template.hasResourceProperties('Custom::ImageSync', {
      SourceKind: 'TenantEcr', SourceImage: `${TENANT_REPOSITORY_URI}@${WORKER_DIGEST}`, DestinationTag: `worker_${WORKER_TAG}`,
    });
    template.hasResourceProperties('Custom::ImageSync', { SourceKind: 'Registry', SourceImage: PROXY_IMAGE, DestinationTag: 'proxy_1.27-alpine' });
    const tags = Object.values(template.findResources('Custom::ImageSync')).map((r: any) => r.Properties.DestinationTag);
    expect(tags).toHaveLength(3);
    expect(new Set(tags).size).toBe(3);
    // One provider for every sync.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::Lambda::Function', 4);
  });

  test('protects the three live releases before keeping 30 releases per component', () => {
    const { stack } = buildInstallApp(outdir);
    const repo = Object.values(Template.fromStack(stack).findResources('AWS::ECR::Repository'))[0] as any;
    const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
    const shape = (r: any) => [r.rulePriority, r.selection.tagStatus, r.selection.tagPatternList, r.selection.countNumber, r.action.type];
    expect(rules.map(shape)).toEqual([
      [1, 'tagged', [`api_${COMPONENT_TAG}`], 1, 'expire'],
      [2, 'tagged', ['proxy_1.27-alpine'], 1, 'expire'],
      [3, 'tagged', [`worker_${WORKER_TAG}`], 1, 'expire'],
      [4, 'tagged', ['api_*'], 30, 'expire'],
      [5, 'tagged', ['proxy_*'], 30, 'expire'],
      [6, 'tagged', ['worker_*'], 30, 'expire'],
      [7, 'tagged', ['sha256-*'], 900, 'expire'],
      [8, 'tagged', ['*'], 30, 'expire'],
      [9, 'untagged', undefined, 900, 'expire'],
    ]);
  });

  test('its synthesized policy, through the lifecycle preview command, keeps every deployed release of a history it has not seen and expires old ones', async () => {
    // Deployed: api rolled back to 1.0.0 (its oldest release), worker at its newest, the proxy synced once two years ago.
    process.env.CDK_CONTEXT_JSON = JSON.stringify({ componentTag: '1.0.0' });
    let stack;
    try {
      stack = buildInstallApp(outdir).stack;
    } finally {
      delete process.env.CDK_CONTEXT_JSON;
    }
    const repo = Object.values(Template.fromStack(stack).findResources('AWS::ECR::Repository'))[0] as any;
    const history = generateHistory({
      start: new Date('2024-11-01T00:00:00Z'),
      days: 730,
      seed: 42,
      components: [{ component: 'api', releases: 70, multiArch: true }, { component: 'worker', releases: 40 }],
      syncedOnce: { proxy: '1.27-alpine' },
    });
    const images = history.images.map((image) => {
      // The generated api versions are 1.<n>.0 and the worker's 1.<n>.0: retag the newest worker as the example's release.
      const tags = (image.imageTags ?? []).map((t) => (t === 'worker_1.39.0' ? `worker_${WORKER_TAG}` : t));
      return { ...image, imageTags: tags, imagePushedAt: image.imagePushedAt.toISOString() };
    });
    const policyFile = path.join(outdir, 'policy.json');
    const imagesFile = path.join(outdir, 'images.json');
    fs.writeFileSync(policyFile, repo.Properties.LifecyclePolicy.LifecyclePolicyText);
    fs.writeFileSync(imagesFile, JSON.stringify({ imageDetails: images }));

    const { code, stdout, stderr } = await cli(['lifecycle', 'preview', policyFile, imagesFile, '--now', history.now.toISOString(), '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const expired = new Set<string>(JSON.parse(stdout).previewResults.map((r: any) => r.imageDigest));
    const live = [history.release('api_1.0.0'), history.release('worker_1.39.0'), history.release('proxy_1.27-alpine')];
    expect(imagesOf(live).filter((d) => expired.has(d))).toEqual([]);
    const old = [...history.releasesOf('api').slice(1, -30), ...history.releasesOf('worker').slice(0, -30)];
    expect([...expired].sort()).toEqual(old.map((r) => r.digest).sort());
    expect(old).toHaveLength(39 + 10);
  });

  test('runs the three images in the task definition pinned by the digests the syncs copied', () => {
    const { stack } = buildInstallApp(outdir);
    const template = Template.fromStack(stack);
    const syncs = Object.keys(template.findResources('Custom::ImageSync'));

    const task = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as any;
    const images = task.Properties.ContainerDefinitions.map((c: any) => JSON.stringify(c.Image));
    expect(images).toHaveLength(3);
    syncs.forEach((id) => expect(images.some((i: string) => i.includes(`"@",{"Fn::GetAtt":["${id}","ImageDigest"]}`))).toBe(true));
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' } });
    const output = JSON.stringify(template.findOutputs('ApiImageUri'));
    expect(syncs.some((id) => output.includes(`"@",{"Fn::GetAtt":["${id}","ImageDigest"]}`))).toBe(true);
    expect(output).not.toContain('"ImageUri"');
  });

  test('takes the api release tag and the release id from context', () => {
    process.env.CDK_CONTEXT_JSON = JSON.stringify({ componentTag: '1.1.0', releaseId: 'r-2026-11-24' });
    let stack;
    try {
      stack = buildInstallApp(outdir).stack;
    } finally {
      delete process.env.CDK_CONTEXT_JSON;
    }

    Template.fromStack(stack).hasResourceProperties('Custom::ImageSync', {
      SourceImage: `${TENANT_REPOSITORY_URI}:1.1.0`,
      DestinationTag: 'api_1.1.0',
      ReleaseId: 'r-2026-11-24',
    });
  });
});
