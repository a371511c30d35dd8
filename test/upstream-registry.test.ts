import { SecretValue } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { newStack } from './support/tenant';
import { UpstreamRegistry } from '../src/upstream-registry';

function namedSecret(name: string): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretNameV2(newStack(), 'Secret', name);
}

describe('UpstreamRegistry', () => {
  const secret = () => namedSecret('ecr-pullthroughcache/upstream');

  test.each([
    ['dockerHub', () => UpstreamRegistry.dockerHub(secret()), 'docker-hub', 'registry-1.docker.io', 'docker-hub'],
    ['githubContainerRegistry', () => UpstreamRegistry.githubContainerRegistry(secret()), 'github-container-registry', 'ghcr.io', 'ghcr'],
    ['gitLabContainerRegistry', () => UpstreamRegistry.gitLabContainerRegistry(secret()), 'gitlab-container-registry', 'registry.gitlab.com', 'gitlab'],
    ['azureContainerRegistry', () => UpstreamRegistry.azureContainerRegistry('acmeimages', secret()), 'azure-container-registry', 'acmeimages.azurecr.io', 'azure'],
    ['chainguard', () => UpstreamRegistry.chainguard(secret()), 'chainguard', 'cgr.dev', 'chainguard'],
    ['quay', () => UpstreamRegistry.quay(), 'quay', 'quay.io', 'quay'],
    ['kubernetes', () => UpstreamRegistry.kubernetes(), 'k8s', 'registry.k8s.io', 'k8s'],
    ['ecrPublic', () => UpstreamRegistry.ecrPublic(), 'ecr-public', 'public.ecr.aws', 'ecr-public'],
    ['ecr', () => UpstreamRegistry.ecr({ account: '222222222222', region: 'us-east-1' }), 'ecr', '222222222222.dkr.ecr.us-east-1.amazonaws.com', 'ecr'],
  ])('%s names its upstream kind, URL and default prefix', (_, make, kind, url, prefix) => {
    const upstream = make();
    expect(upstream.kind).toBe(kind);
    expect(upstream.url).toBe(url);
    expect(upstream.defaultRepositoryPrefix).toBe(prefix);
  });

  test('accepts an Azure registry given by its host', () => {
    expect(UpstreamRegistry.azureContainerRegistry('AcmeImages.azurecr.io', secret()).url).toBe('acmeimages.azurecr.io');
  });

  test('derives the China registry host of an upstream ECR registry in a China Region', () => {
    expect(UpstreamRegistry.ecr({ account: '222222222222', region: 'cn-north-1' }).url).toBe('222222222222.dkr.ecr.cn-north-1.amazonaws.com.cn');
  });

  test('fails on a secret whose name lacks the ecr-pullthroughcache/ prefix', () => {
    expect(() => UpstreamRegistry.dockerHub(namedSecret('dockerhub-login'))).toThrow(
      'Invalid UpstreamRegistry.dockerHub props:\n  - credentials.secretName: "dockerhub-login" is not allowed: a name starting with "ecr-pullthroughcache/"',
    );
  });

  test('fails on a secret ARN outside the ecr-pullthroughcache/ namespace', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:ghcr-login-AbCdEf';
    const imported = secretsmanager.Secret.fromSecretCompleteArn(newStack(), 'Secret', arn);
    expect(() => UpstreamRegistry.githubContainerRegistry(imported)).toThrow(/credentials\.secretName: "ghcr-login" is not allowed: a name starting with "ecr-pullthroughcache\/"/);
  });

  test('fails on a secret of the app whose generated JSON lacks the accessToken key', () => {
    const stack = newStack();
    const s = new secretsmanager.Secret(stack, 'Login', {
      secretName: 'ecr-pullthroughcache/docker-hub',
      generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'acme' }), generateStringKey: 'password' },
    });
    expect(() => UpstreamRegistry.dockerHub(s)).toThrow(
      /credentials\.secretValue: "keys \[\\"username\\",\\"password\\"\]" is not allowed: JSON with the keys "username" and "accessToken" \(missing accessToken\)/,
    );
  });

  test('accepts a secret of the app holding username and accessToken', () => {
    const stack = newStack();
    const s = new secretsmanager.Secret(stack, 'Login', {
      secretName: 'ecr-pullthroughcache/ghcr',
      secretObjectValue: { username: SecretValue.unsafePlainText('acme-bot'), accessToken: SecretValue.unsafePlainText('placeholder') },
    });
    expect(UpstreamRegistry.githubContainerRegistry(s).kind).toBe('github-container-registry');
  });

  test('fails when an upstream that needs credentials gets none', () => {
    expect(() => UpstreamRegistry.chainguard(undefined as unknown as secretsmanager.ISecret)).toThrow(
      /Invalid UpstreamRegistry\.chainguard props:\n {2}- credentials: undefined is not allowed: a Secrets Manager secret named ecr-pullthroughcache\/<name>/,
    );
  });

  test('fails on an Azure registry name that is not 5-50 letters and digits', () => {
    expect(() => UpstreamRegistry.azureContainerRegistry('acme-images', secret())).toThrow(
      'registryName: "acme-images" is not allowed: an Azure Container Registry name of 5-50 letters and digits',
    );
  });

  test('fails on an upstream ECR registry with a bad account, Region and upstream prefix, listing all three', () => {
    expect(() => UpstreamRegistry.ecr({ account: '1234', region: 'mars', upstreamRepositoryPrefix: 'Team_A' })).toThrow(
      /account: "1234" is not allowed[\s\S]*region: "mars" is not allowed: an AWS Region[\s\S]*upstreamRepositoryPrefix: "Team_A" is not allowed/,
    );
  });

  test('keeps the role given for an upstream ECR registry', () => {
    const stack = newStack();
    const role = iam.Role.fromRoleArn(stack, 'Role', 'arn:aws:iam::111111111111:role/ptc', { mutable: false });
    expect(UpstreamRegistry.ecr({ account: '222222222222', region: 'eu-west-1', role })._config.role).toBe(role);
  });
});
