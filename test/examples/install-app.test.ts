import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildInstallApp, PROXY_IMAGE, TENANT_ACCESS_ROLE_ARN, TENANT_REPOSITORY_URI } from '../../examples/install-app';
import { COMPONENT_TAG, EXTERNAL_ID } from '../../examples/tenant-app';

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

  test('syncs the tenant release through the access role and the public image into the install repository', () => {
    const { stack } = buildInstallApp(outdir);
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::ECR::Repository', 1);
    template.hasResourceProperties('Custom::ImageSync', {
      SourceKind: 'TenantEcr',
      SourceImage: `${TENANT_REPOSITORY_URI}:${COMPONENT_TAG}`,
      AccessRoleArn: TENANT_ACCESS_ROLE_ARN,
      ExternalId: EXTERNAL_ID,
      DestinationTag: COMPONENT_TAG,
      Platforms: ['linux/arm64'],
      ReleaseId: `component-${COMPONENT_TAG}`,
    });
    template.hasResourceProperties('Custom::ImageSync', { SourceKind: 'Registry', SourceImage: PROXY_IMAGE, DestinationTag: 'nginx-1.27-alpine' });
    // One provider for both syncs.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::Lambda::Function', 4);
  });

  test('runs both images in the task definition pinned by the digests the syncs copied', () => {
    const { stack } = buildInstallApp(outdir);
    const template = Template.fromStack(stack);
    const syncs = Object.keys(template.findResources('Custom::ImageSync'));

    const task = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as any;
    const images = task.Properties.ContainerDefinitions.map((c: any) => JSON.stringify(c.Image));
    expect(images).toHaveLength(2);
    syncs.forEach((id) => expect(images.some((i: string) => i.includes(`"@",{"Fn::GetAtt":["${id}","ImageDigest"]}`))).toBe(true));
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' } });
    const output = JSON.stringify(template.findOutputs('ComponentImageUri'));
    expect(syncs.some((id) => output.includes(`"@",{"Fn::GetAtt":["${id}","ImageDigest"]}`))).toBe(true);
    expect(output).not.toContain('"ImageUri"');
  });

  test('takes the component tag and the release id from context', () => {
    process.env.CDK_CONTEXT_JSON = JSON.stringify({ componentTag: '1.1.0', releaseId: 'r-2026-11-24' });
    let stack;
    try {
      stack = buildInstallApp(outdir).stack;
    } finally {
      delete process.env.CDK_CONTEXT_JSON;
    }

    Template.fromStack(stack).hasResourceProperties('Custom::ImageSync', {
      SourceImage: `${TENANT_REPOSITORY_URI}:1.1.0`,
      DestinationTag: '1.1.0',
      ReleaseId: 'r-2026-11-24',
    });
  });
});
