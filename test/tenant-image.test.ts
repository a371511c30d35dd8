import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { ECRDeployment } from 'cdk-ecr-deployment';
import { AwsSolutionsChecks } from 'cdk-nag';
import { asList, COMPONENT, identityStatements, newStack, repoLogicalId } from './support/tenant';
import { InstallRepository } from '../src/install-repository';
import { TenantImage, TenantImageSource } from '../src/tenant-image';
import { TenantRepository } from '../src/tenant-repository';

describe('TenantImage', () => {
  test('builds the Dockerfile as an asset and copies it under the caller\'s tag', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo', { repositoryName: 'acme/api' });
    const image = repo.addImage('Api', {
      directory: COMPONENT,
      tag: 'v1.2.3',
      buildArgs: { COMPONENT_VERSION: '1.2.3' },
      platform: ecr_assets.Platform.LINUX_ARM64,
    });
    const template = Template.fromStack(stack);
    const id = repoLogicalId(template);
    expect(image.imageTag).toBe('v1.2.3');
    template.hasResourceProperties('Custom::CDKECRDeployment', {
      SrcImage: { 'Fn::Join': ['', ['docker://', { 'Fn::Sub': Match.stringLikeRegexp('cdk-hnb659fds-container-assets-111111111111-eu-west-1:[a-f0-9]{64}$') }]] },
      DestImage: { 'Fn::Join': ['', Match.arrayWith(['docker://', { Ref: id }, ':v1.2.3'])] },
      ImageArch: 'arm64',
    });
    expect(stack.resolve(image.imageUri)).toEqual(stack.resolve(repo.repository.repositoryUriForTag('v1.2.3')));
  });

  test('passes the build options to the Docker asset', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    const image = repo.addImage('Api', {
      directory: COMPONENT,
      file: 'Dockerfile',
      buildArgs: { COMPONENT_VERSION: '9.9.9' },
      platform: ecr_assets.Platform.LINUX_AMD64,
      target: 'final',
    });
    const asset = image.node.findChild('Asset') as ecr_assets.DockerImageAsset;
    expect(asset).toBeInstanceOf(ecr_assets.DockerImageAsset);
    const assembly = App.of(stack)!.synth();
    const manifest = assembly.artifacts.find((a): a is cxapi.AssetManifestArtifact => a instanceof cxapi.AssetManifestArtifact)!;
    expect(manifest.contents.dockerImages![asset.assetHash].source).toEqual(expect.objectContaining({
      dockerFile: 'Dockerfile',
      dockerBuildArgs: { COMPONENT_VERSION: '9.9.9' },
      dockerBuildTarget: 'final',
      platform: 'linux/amd64',
    }));
  });

  test('tags with the asset hash by default', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    const image = repo.addImage('Api', { directory: COMPONENT });
    const asset = image.node.findChild('Asset') as ecr_assets.DockerImageAsset;
    expect(image.imageTag).toBe(asset.assetHash);
    expect(image.imageTag).toMatch(/^[a-f0-9]{64}$/);
    Template.fromStack(stack).hasResourceProperties('Custom::CDKECRDeployment', {
      DestImage: { 'Fn::Join': ['', Match.arrayWith([`:${asset.assetHash}`])] },
      ImageArch: Match.absent(),
    });
  });

  test('loads a tarball as an asset and copies it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenant-tarball-'));
    const tarball = path.join(dir, 'image.tar');
    fs.writeFileSync(tarball, 'not really a tarball, only hashed at synth time');
    try {
      const stack = newStack();
      const repo = new TenantRepository(stack, 'Repo');
      const image = repo.addTarball('Saved', { tarballFile: tarball, tag: 'saved-1' });
      expect(image.node.findChild('Asset')).toBeInstanceOf(ecr_assets.TarballImageAsset);
      Template.fromStack(stack).hasResourceProperties('Custom::CDKECRDeployment', {
        DestImage: { 'Fn::Join': ['', Match.arrayWith([':saved-1'])] },
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('copies into any repository through TenantImageSource', () => {
    const stack = newStack();
    const target = ecr.Repository.fromRepositoryName(stack, 'Other', 'acme/other');
    const image = new TenantImage(stack, 'Img', { repository: target, source: TenantImageSource.fromDirectory(COMPONENT), tag: 'x1' });
    expect(stack.resolve(image.imageUri)).toEqual(stack.resolve(target.repositoryUriForTag('x1')));
    expect(image.deployment).toBeInstanceOf(ECRDeployment);
    expect(JSON.stringify(stack.resolve(image.sourceImageUri))).toContain('cdk-hnb659fds-container-assets-111111111111-eu-west-1:');
  });

  test('grants no action wildcard and "*" only for the registry login token', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.addImage('A', { directory: COMPONENT, tag: 'a' });
    repo.grantPull(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountPrincipal('222222222222') }));
    const statements = identityStatements(Template.fromStack(stack));
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      for (const action of asList(s.Action)) expect(action).not.toContain('*');
      if (asList(s.Resource).includes('*')) expect(s.Action).toBe('ecr:GetAuthorizationToken');
    }
  });

  test('passes the cdk-nag AwsSolutions checks with its own acknowledgements', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Repo');
    repo.addImage('A', { directory: COMPONENT, tag: 'a' });
    repo.addImage('B', { directory: COMPONENT, tag: 'b', buildArgs: { COMPONENT_VERSION: '2' } });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('passes the cdk-nag AwsSolutions checks in an environment-agnostic stack', () => {
    const stack = new Stack(new App(), 'Agnostic');
    new TenantRepository(stack, 'Repo').addImage('A', { directory: COMPONENT, tag: 'a' });
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  test('fails on a build platform that is not os/architecture[/variant]', () => {
    expect(() => TenantImageSource.fromDirectory(COMPONENT, { platform: ecr_assets.Platform.custom('arm64') }))
      .toThrow('Invalid TenantImageSource.fromDirectory props:\n  - platform: "arm64" is not allowed: os/architecture[/variant]');
  });

  test('copies into an install repository given as its inner repository, exempting the copy role from its write deny', () => {
    const stack = newStack();
    const install = new InstallRepository(stack, 'Install');
    new TenantImage(stack, 'Img', { repository: install.repository, source: TenantImageSource.fromDirectory(COMPONENT), tag: 'x1' });
    const template = Template.fromStack(stack);
    const copyRole = Object.keys(template.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('cdk-ecr-deployment') } }))[0];

    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryPolicyText: {
        Statement: [Match.objectLike({ Effect: 'Deny', Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [copyRole, 'Arn'] } } } })],
      },
    });
  });
});
