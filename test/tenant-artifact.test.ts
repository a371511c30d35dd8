import * as path from 'path';
import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { newStack } from './support/tenant';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncProvider } from '../src/image-sync-provider';
import { TenantArtifact } from '../src/tenant-artifact';
import { TenantRepository } from '../src/tenant-repository';

const CHART = path.join(__dirname, 'fixtures', 'charts', 'web');
const MODULE = path.join(__dirname, 'fixtures', 'bundles', 'network');

/** One chart and one bundle in one repository, each seen through the base class. */
function chartAndBundle(stack: Stack): { repo: TenantRepository; artifacts: TenantArtifact[] } {
  const repo = new TenantRepository(stack, 'Artifacts', { repositoryName: 'acme/artifacts' });
  const chart = repo.addChart('Web', { directory: CHART });
  const bundle = repo.addBundle('Network', { directory: MODULE, artifactType: 'application/vnd.acme.terraform.module.v1', tag: 'network-1' });
  return { repo, artifacts: [chart, bundle] };
}

describe('TenantArtifact', () => {
  test('a chart and a bundle each expose their own resource, asset, digest, URI and tag', () => {
    const stack = newStack();
    const { repo, artifacts } = chartAndBundle(stack);
    const template = Template.fromStack(stack);
    for (const artifact of artifacts) {
      const logicalId = stack.getLogicalId(artifact.resource.node.defaultChild as CfnResource);
      expect(artifact.resource.node.scope).toBe(artifact);
      expect(artifact.asset.node.scope).toBe(artifact);
      template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceObjectKey: artifact.asset.s3ObjectKey, DestinationTag: artifact.imageTag });
      expect(stack.resolve(artifact.imageDigest)).toEqual({ 'Fn::GetAtt': [logicalId, 'ImageDigest'] });
      expect(stack.resolve(artifact.imageUri)).toEqual(stack.resolve(`${repo.repositoryUri}@${artifact.imageDigest}`));
      expect(stack.resolve(artifact.repositoryUri)).toEqual(stack.resolve(repo.repositoryUri));
    }
    expect(artifacts.map(a => a.imageTag)).toEqual(['1.2.3_build.7', 'network-1']);
  });

  test('both run on the stack\'s shared provider and its sync function', () => {
    const stack = newStack();
    const { artifacts } = chartAndBundle(stack);
    const shared = ImageSyncProvider.of(stack);
    for (const artifact of artifacts) {
      expect(artifact.provider).toBe(shared);
      expect(artifact.syncFunction).toBe(shared.function);
    }
  });

  test('fails, naming the construct, when a subclass reads what it has not pushed', () => {
    class Unpushed extends TenantArtifact {
      constructor(scope: Construct, id: string) {
        super(scope, id);
      }
    }
    const artifact = new Unpushed(newStack(), 'Unpushed');
    expect(() => artifact.imageDigest).toThrow('Tenant/Unpushed: the artifact is read before it is pushed');
  });
});
