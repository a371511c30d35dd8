import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { identityStatements, newStack } from './support/tenant';
import { bundleArtifact, bundleDirectory } from '../src/artifacts/bundle';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { TenantBundle } from '../src/tenant-bundle';
import { TenantRepository } from '../src/tenant-repository';

const MODULE = path.join(__dirname, 'fixtures', 'bundles', 'network');
const TYPE = 'application/vnd.acme.terraform.module.v1';

describe('TenantBundle', () => {
  test('renders a Custom::ImageSync from the archive asset under the given tag, pinned to the synth digest', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Modules', { repositoryName: 'acme/network' });
    const bundle = repo.addBundle('Network', { directory: MODULE, artifactType: TYPE, tag: '1.0.0' });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'OciArchive',
      SourceObjectKey: bundle.asset.s3ObjectKey,
      ExpectedSourceDigest: bundleDirectory(MODULE, { artifactType: TYPE, tag: '1.0.0' }).digest,
      DestinationTag: '1.0.0',
    });
    const logicalId = stack.getLogicalId(bundle.resource.node.defaultChild as CfnResource);
    expect(stack.resolve(bundle.imageDigest)).toEqual({ 'Fn::GetAtt': [logicalId, 'ImageDigest'] });
    expect(bundle.imageTag).toBe('1.0.0');
    expect(bundle.artifactType).toBe(TYPE);
  });

  test('packs the directory as one archive layer, or a list of files one layer each, as asked', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Modules');
    const archived = repo.addBundle('Archived', { directory: MODULE, artifactType: TYPE, tag: 'archived', archive: true, exclude: ['variables.tf'] });
    const files = [path.join(MODULE, 'main.tf'), path.join(MODULE, 'variables.tf')];
    const listed = repo.addBundle('Listed', { files, artifactType: TYPE, tag: 'listed' });
    const template = Template.fromStack(stack);
    const expectedListed = bundleArtifact(files.map(f => ({ name: path.basename(f), data: fs.readFileSync(f) })), { artifactType: TYPE, tag: 'listed' });
    const expectedArchived = bundleDirectory(MODULE, { artifactType: TYPE, tag: 'archived', layout: 'archive', exclude: ['variables.tf'] });
    for (const [bundle, expected] of [[listed, expectedListed], [archived, expectedArchived]] as const) {
      template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceObjectKey: bundle.asset.s3ObjectKey, ExpectedSourceDigest: expected.digest });
    }
  });

  test('grants s3:GetObject on each archive object only', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Modules');
    const a = repo.addBundle('A', { directory: MODULE, artifactType: TYPE, tag: 'a' });
    const b = repo.addBundle('B', { directory: MODULE, artifactType: TYPE, tag: 'b', archive: true });
    const s3 = identityStatements(Template.fromStack(stack)).filter(s => JSON.stringify(s.Action).includes('s3:'));
    expect(s3).toEqual([a, b].map(x => ({
      Effect: 'Allow', Action: 's3:GetObject', Resource: stack.resolve(x.asset.bucket.arnForObjects(x.asset.s3ObjectKey)),
    })));
  });

  test('passes the cdk-nag AwsSolutions checks with its own acknowledgements', () => {
    const stack = newStack();
    new TenantRepository(stack, 'Modules').addBundle('Network', { directory: MODULE, artifactType: TYPE, tag: '1.0.0' });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations).toEqual([]);
  });

  test('fails on both directory and files, an artifact type that is no media type and a bad tag, listing all', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Modules');
    expect(() => new TenantBundle(stack, 'Bad', {
      repository: repo, directory: MODULE, files: [path.join(MODULE, 'main.tf')], artifactType: 'terraform', tag: '-x',
    })).toThrow(new RegExp([
      'Invalid TenantBundle props:',
      `  - directory: ${JSON.stringify(MODULE).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not allowed: exactly one of directory and files`,
      '  - artifactType: "terraform" is not allowed: a media type \\(type/subtype\\)',
      '  - tag: "-x" is not allowed: a tag is 1-128 characters',
    ].join('[\\s\\S]*')));
  });

  test('fails on archive and exclude without a directory, and on a file that cannot be read', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Modules');
    const missing = path.join(os.tmpdir(), 'no-such-bundle-file.tf');
    expect(() => repo.addBundle('Files', { files: [missing], artifactType: TYPE, tag: 'x', archive: true, exclude: ['*.bak'] }))
      .toThrow(/archive: true is not allowed: only with directory[\s\S]*exclude: \["\*\.bak"\] is not allowed: only with directory/);
    expect(() => repo.addBundle('Missing', { files: [missing], artifactType: TYPE, tag: 'y' }))
      .toThrow(`files: ${JSON.stringify([missing])} is not allowed: files that can be bundled (${missing}: not a file that can be read)`);
  });

  test('fails on a tag another image of the repository already has', () => {
    const stack = newStack();
    const repo = new TenantRepository(stack, 'Modules');
    repo.addBundle('First', { directory: MODULE, artifactType: TYPE, tag: '1.0.0' });
    expect(() => repo.addBundle('Second', { directory: MODULE, artifactType: TYPE, tag: '1.0.0' }))
      .toThrow('Invalid TenantBundle props:\n  - tag: "1.0.0" is not allowed: a tag no other image of this repository uses (image "First" has it');
  });
});
