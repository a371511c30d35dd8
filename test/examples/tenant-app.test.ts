import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  ACCESS_ROLE_NAME, COMPONENT_TAG, DOCKER_HUB_SECRET_NAME, EXTERNAL_ID, INSTALL_ACCOUNT_IDS, NGINX_IMAGE, TENANT_ENV, TenantStack,
  WEB_CHART_DIRECTORY, buildTenantApp,
} from '../../examples/tenant-app';
import { chartArtifact, packChartDirectory } from '../../src/artifacts/chart';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../../src/image-sync-contract';

describe('examples/tenant-app', () => {
  let outdir: string;
  beforeEach(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenant-app-'));
  });
  afterEach(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    const { stack } = buildTenantApp(outdir);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('synthesizes with the AwsSolutions plugin registered on the app and an empty report', () => {
    const { app } = buildTenantApp(outdir);
    const assembly = app.synth();
    expect(assembly.getStackByName('ByocTenant').template.Resources).toBeDefined();
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  });

  test('fails the synthesis on a finding nobody acknowledged (the plugin really runs)', () => {
    const { app, stack } = buildTenantApp(outdir);
    const role = new iam.Role(stack, 'Careless', { assumedBy: new iam.AccountPrincipal('222222222222') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:*'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(/ByocTenant\/Careless\/DefaultPolicy[\s\S]*AwsSolutions-IAM5\[Action::ecr:\*\]/);
  });

  test('holds a repository, the component image under its release tag and the pull role for two installs', () => {
    const { stack } = buildTenantApp(outdir);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'acme/component',
      ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'AES256' },
    });
    template.hasResourceProperties('Custom::CDKECRDeployment', {
      DestImage: { 'Fn::Join': ['', Match.arrayWith([`:${COMPONENT_TAG}`])] },
      ImageArch: 'arm64',
    });
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { RoleName: ACCESS_ROLE_NAME },
    });
    expect(Object.keys(roles)).toHaveLength(1);
    const trust = (Object.values(roles)[0] as any).Properties.AssumeRolePolicyDocument.Statement;
    expect(trust.map((s: any) => [s.Action, s.Principal.AWS])).toEqual([
      ['sts:AssumeRole', INSTALL_ACCOUNT_IDS],
      ['sts:TagSession', INSTALL_ACCOUNT_IDS],
    ]);
    for (const s of trust) {
      expect(s.Condition.StringEquals).toEqual({ 'sts:ExternalId': EXTERNAL_ID });
    }
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
      'AccessRoleArn', 'DockerHubCachePrefix', 'ExternalId', 'ImageUri', 'NginxImageUri', 'RepositoryUri', 'WebChartReference',
    ]);
  });

  test('caches Docker Hub through a rule with its creation template, and lets the installs\' pull role pull through it', () => {
    const { stack } = buildTenantApp(outdir);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECR::PullThroughCacheRule', {
      EcrRepositoryPrefix: 'docker-hub',
      UpstreamRegistryUrl: 'registry-1.docker.io',
      CredentialArn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`:secret:${DOCKER_HUB_SECRET_NAME}$`)])] },
    });
    template.hasResourceProperties('AWS::ECR::RepositoryCreationTemplate', {
      Prefix: 'docker-hub', AppliedFor: ['PULL_THROUGH_CACHE'], ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', LifecyclePolicy: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^InstallPull') }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: Match.arrayWith(['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository']),
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111111111111:repository/docker-hub/*']] },
        })]),
      },
    });
  });

  test('imports the public nginx image into its tenant repository, pinned when the vetted digest is given', () => {
    const { stack } = buildTenantApp(outdir);
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'Registry', SourceImage: NGINX_IMAGE, DestinationTag: '1.27', ExpectedSourceDigest: Match.absent(),
    });
    const digest = `sha256:${'0f'.repeat(32)}`;
    const pinned = new TenantStack(new App({ outdir, context: { nginxDigest: digest } }), 'Pinned', { env: TENANT_ENV });
    Template.fromStack(pinned).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceImage: NGINX_IMAGE, ExpectedSourceDigest: digest });
  });

  test('pushes the web chart from its archive asset under the chart version, pinned to the digest packed at synth', () => {
    const { stack } = buildTenantApp(outdir);
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'OciArchive',
      SourceObjectKey: stack.webChart.asset.s3ObjectKey,
      ExpectedSourceDigest: chartArtifact(packChartDirectory(WEB_CHART_DIRECTORY)).digest,
      DestinationTag: '1.2.3_build.7',
    });
  });

  test('grants no action wildcard, and "*" only for ecr:GetAuthorizationToken and the import provider\'s log delivery', () => {
    const { stack } = buildTenantApp(outdir);
    const template = Template.fromStack(stack);
    const statements: any[] = [];
    for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as any[]) {
      const roles = JSON.stringify(p.Properties.Roles);
      // The provider framework's waiter state machine delivers its logs with logs:*Delivery
      // actions IAM grants only on "*" (acknowledged in ImageSyncProvider); everything else is held to the rule.
      if (/ImageSyncProviderwaiterstatemachineRole/.test(roles)) {
        for (const s of p.Properties.PolicyDocument.Statement) {
          for (const action of [s.Action].flat()) expect(action).toMatch(/^(logs|lambda|states):[A-Za-z]+$/);
        }
        continue;
      }
      statements.push(...p.Properties.PolicyDocument.Statement);
    }
    for (const r of Object.values(template.findResources('AWS::IAM::Role')) as any[]) {
      for (const p of r.Properties.Policies ?? []) statements.push(...p.PolicyDocument.Statement);
    }
    expect(statements.length).toBeGreaterThanOrEqual(5);
    for (const s of statements) {
      for (const action of [s.Action].flat()) expect(action).not.toContain('*');
      if ([s.Resource].flat().includes('*')) expect(s.Action).toBe('ecr:GetAuthorizationToken');
    }
  });
});
