import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  DIGEST, EXTERNAL_ID, newStack, policyStatements, ROLE_ARN, SHARED_ROLE_PREFIX, TENANT_ARN, TENANT_URI, tenantSource,
} from './support/image-sync';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { ImageSyncProvider } from '../src/image-sync-provider';
import { InstallRepository } from '../src/install-repository';

describe('ImageSync', () => {
  test('renders a Custom::ImageSync with the tenant source, the destination and the default tag', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo', { repositoryName: 'install/api' });
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromEcr(repo), releaseId: 'r-2026.11' });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      ServiceToken: Match.anyValue(),
      SourceKind: 'TenantEcr',
      SourceImage: `${TENANT_URI}:v1.2.3`,
      SourceRepositoryArn: TENANT_ARN,
      AccessRoleArn: ROLE_ARN,
      ExternalId: EXTERNAL_ID,
      DestinationRepositoryUri: Match.anyValue(),
      DestinationRepositoryName: { Ref: Match.stringLikeRegexp('^Repo') },
      DestinationTag: 'api_v1.2.3',
      ReleaseId: 'r-2026.11',
      RemoveOnDelete: 'false',
      TotalTimeoutSeconds: '3600',
    });
  });

  test('copies only the chosen platforms, given like TenantImage\'s', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', {
      source: tenantSource(stack),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      platforms: [ecr_assets.Platform.LINUX_ARM64, ecr_assets.Platform.custom('linux/arm/v7')],
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { Platforms: ['linux/arm64', 'linux/arm/v7'] });
  });

  test('grants tag removal only when asked for', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    new ImageSync(stack, 'Proxy', {
      source: ImageSource.fromRegistry('docker.io/library/nginx:1.27', { credentials: new secretsmanager.Secret(stack, 'HubLogin') }),
      destination: ImageSyncDestination.fromEcr(repo),
      removeOnDelete: true,
    });
    const template = Template.fromStack(stack);
    const statements = policyStatements(template, SHARED_ROLE_PREFIX);

    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'ecr:BatchDeleteImage', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Repo/), 'Arn'] } }),
    ]));
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { RemoveOnDelete: 'true' });
  });

  test('grants pull on the destination to other consumers', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Install');
    const sync = new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromInstallRepository(repo) });
    const nodes = new iam.Role(stack, 'Nodes', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    sync.grantPull(nodes);

    const statements = policyStatements(Template.fromStack(stack), 'Nodes');
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'] }),
    ]));
    expect(statements.flatMap((st) => [st.Action].flat())).not.toContain('ecr:PutImage');
  });

  test('exposes the copy\'s attributes and a digest-pinned container image that grants pull', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const sync = new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromEcr(repo) });
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    task.addContainer('api', { image: sync.containerImage() });
    const template = Template.fromStack(stack);
    const syncId = Object.keys(template.findResources(IMAGE_SYNC_RESOURCE_TYPE))[0];

    expect(stack.resolve(sync.imageDigest)).toEqual({ 'Fn::GetAtt': [syncId, 'ImageDigest'] });
    // What runs is built in the template from the destination repository; only the digest is the handler's.
    const imageUri = JSON.stringify(stack.resolve(sync.imageUri));
    expect(imageUri).toContain(`{"Ref":"${stack.getLogicalId(repo.node.defaultChild as ecr.CfnRepository)}"},"@",{"Fn::GetAtt":["${syncId}","ImageDigest"]}`);
    expect(imageUri).not.toContain('ImageUri');
    expect(stack.resolve(sync.imageTag)).toEqual('api_v1.2.3');
    expect(stack.resolve(sync.repositoryUri)).toEqual(stack.resolve(repo.repositoryUri));
    // Helm's names for a synced chart: the repository as an oci:// URL, and the digest-pinned chart.
    const repoRef = JSON.stringify(stack.resolve(repo.repositoryUri));
    // CDK flattens nested joins: the repository URI's parts follow "oci://" in one join.
    expect(JSON.stringify(stack.resolve(sync.chartRepositoryUrl))).toBe(repoRef.replace('{"Fn::Join":["",[', '{"Fn::Join":["",["oci://",'));
    const chartReference = JSON.stringify(stack.resolve(sync.chartReference));
    expect(chartReference).toMatch(/^\{"Fn::Join":\["",\["oci:\/\/",/);
    expect(chartReference).toContain(`"@",{"Fn::GetAtt":["${syncId}","ImageDigest"]}`);
    const image = JSON.stringify(template.findResources('AWS::ECS::TaskDefinition'));
    expect(image).toContain(`"@",{"Fn::GetAtt":["${syncId}","ImageDigest"]}`);
    const executionPolicies = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref.startsWith('TaskExecutionRole')));
    expect(JSON.stringify(executionPolicies)).toContain('ecr:BatchGetImage');
  });

  test('passes cdk-nag AwsSolutions with every source kind, in and out of a VPC', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Repo');
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const build = new ecr.Repository(stack, 'Build', { imageScanOnPush: true });
    const inVpc = new ImageSyncProvider(stack, 'InVpc', { vpc });
    new ImageSync(stack, 'Tenant', { source: tenantSource(stack), destination: ImageSyncDestination.fromInstallRepository(repo), provider: inVpc, removeOnDelete: true });
    new ImageSync(stack, 'Local', { source: ImageSource.fromEcr(build, { tag: 'main' }), destination: ImageSyncDestination.fromEcr(build), tag: 'copy' });
    new ImageSync(stack, 'Hub', {
      source: ImageSource.fromRegistry('docker.io/library/nginx:1.27', { credentials: secretsmanager.Secret.fromSecretNameV2(stack, 'Login', 'hub-login') }),
      destination: ImageSyncDestination.fromInstallRepository(repo),
    });
    const report = new AwsSolutionsChecks().validateScope(stack);

    // Only findings caused by what this test builds outside ImageSync are allowed (the test VPC's flow logs).
    const foreign = (v: any) => v.violatingResources.every((r: any) => /^Install\/Vpc\//.test(r.constructPath ?? '') || /^Vpc/.test(r.resourceLogicalId ?? ''));
    const ours = report.violations.filter((v) => !foreign(v));
    expect(ours.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`)).toEqual([]);
  });

  test.each([
    ['Api', 'api'], ['ApiServer', 'api-server'], ['web_ui', 'web-ui'], ['HTTPProxy2', 'http-proxy2'], ['proxy.v1', 'proxy-v1'],
  ])('derives the component from the construct id %s and writes <component>_<tag>', (id, component) => {
    const stack = newStack();
    const sync = new ImageSync(stack, id, { source: tenantSource(stack), destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')) });
    expect(sync.component).toBe(component);
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { DestinationTag: `${component}_v1.2.3` });
  });

  test('fails when two syncs would write the same release family into one repository, naming both', () => {
    const stack = newStack();
    const repo = new InstallRepository(stack, 'Artifacts');
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromInstallRepository(repo) });
    const stage = new Construct(stack, 'Canary');
    expect(() => new ImageSync(stage, 'Api', { source: tenantSource(stack, { tag: 'v1.3.0' }), destination: ImageSyncDestination.fromEcr(repo.repository) }))
      .toThrow(/Invalid ImageSync props:\n  - component: "api" is not allowed: a release family of its own: Install\/Api already writes the tags api_\* into the destination repository Install\/Artifacts, so both would write the same tags; give Install\/Canary\/Api or Install\/Api another component/);
    // Another component, or another repository, is fine.
    new ImageSync(stage, 'ApiCanary', { source: tenantSource(stack), destination: ImageSyncDestination.fromInstallRepository(repo) });
    new ImageSync(stage, 'ApiOther', { source: tenantSource(stack), destination: ImageSyncDestination.fromInstallRepository(new InstallRepository(stack, 'Other')), component: 'api' });
    expect(Object.values(Template.fromStack(stack).findResources(IMAGE_SYNC_RESOURCE_TYPE)).map((r: any) => r.Properties.DestinationTag).sort())
      .toEqual(['api-canary_v1.2.3', 'api_v1.2.3', 'api_v1.2.3']);
  });

  test('fails on a provider of another stack', () => {
    const stack = newStack();
    const other = new Stack(stack.node.scope as any, 'Other', { env: stack.environment as any });
    const provider = new ImageSyncProvider(other, 'Sync');
    expect(() => new ImageSync(stack, 'Api', {
      source: tenantSource(stack), destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')), provider,
    })).toThrow(/provider: "Other\/Sync" is not allowed: a provider of this ImageSync's stack Install/);
  });

  test.each([
    ['a digest-only source without a destination tag', (s: Stack) => ({ source: tenantSource(s, { digest: DIGEST }) }), /tag: undefined is not allowed: a destination tag/],
    ['a bad destination tag', (s: Stack) => ({ source: tenantSource(s), tag: '-bad' }), /tag: "-bad" is not allowed/],
    ['a bad platform', (s: Stack) => ({ source: tenantSource(s), platforms: [ecr_assets.Platform.custom('arm64')] }), /platforms: "arm64" is not allowed/],
    ['an empty platform list', (s: Stack) => ({ source: tenantSource(s), platforms: [] }), /platforms: \[\] is not allowed: at least one platform/],
    ['a release id with spaces', (s: Stack) => ({ source: tenantSource(s), releaseId: 'release 1' }), /releaseId: "release 1" is not allowed/],
    ['a two-hour budget', (s: Stack) => ({ source: tenantSource(s), totalTimeout: Duration.hours(2) }), /totalTimeout: "7200 seconds" is not allowed: between 5 minutes and 1 hour/],
    ['a budget of a fraction of a second', (s: Stack) => ({ source: tenantSource(s), totalTimeout: Duration.millis(300_500) }),
      /totalTimeout: "300500 milliseconds" is not allowed: a whole number of seconds between 5 minutes and 1 hour/],
    ['a component holding the separator', (s: Stack) => ({ source: tenantSource(s), component: 'api_v2' }), /component: "api_v2" is not allowed: a concrete name of 1-63 characters: lower-case letters and digits, joined by single "-" or "." \(no "_"/],
    ['an upper-case component', (s: Stack) => ({ source: tenantSource(s), component: 'Api' }), /component: "Api" is not allowed/],
    ['a release tag too long for its family', (s: Stack) => ({ source: tenantSource(s), tag: 'v'.repeat(125) }), /tag: "v+\.\.\. \(127 characters\) is not allowed: at most 124 characters with component "api": the destination tag "api_v+\.\.\." is limited to 128/],
  ])('fails on %s', (_name, props, message) => {
    const stack = newStack();
    expect(() => new ImageSync(stack, 'Api', { destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')), ...(props(stack) as any) }))
      .toThrow(message);
  });
});
