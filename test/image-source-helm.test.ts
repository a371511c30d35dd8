import * as crypto from 'crypto';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { newStack, policyStatements, SHARED_ROLE_PREFIX } from './support/image-sync';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { InstallRepository } from '../src/install-repository';
import { SignatureVerification } from '../src/signature-verification';
import { TenantRepository } from '../src/tenant-repository';

const URL = 'https://charts.example.com/stable';
const DIGEST = `sha256:${'ef'.repeat(32)}`;
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:charts-login-AbCdEf';
const KEY = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('ImageSource.fromHelmRepository', () => {
  test('renders the repository, chart and version, and tags the release family with the version (+ as _)', () => {
    const stack = newStack();
    const sync = new ImageSync(stack, 'Ingress', {
      source: ImageSource.fromHelmRepository(URL, 'ingress-nginx', '4.11.2+up1'),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
    });

    const template = Template.fromStack(stack);
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'HelmRepository',
      HelmRepositoryUrl: URL,
      HelmChart: 'ingress-nginx',
      HelmChartVersion: '4.11.2+up1',
      DestinationTag: 'ingress_4.11.2_up1',
    });
    const properties = Object.values(template.findResources(IMAGE_SYNC_RESOURCE_TYPE))[0].Properties;
    expect(properties.SourceImage).toBeUndefined();
    expect(properties.ExpectedSourceDigest).toBeUndefined();
    expect(sync.imageTag).toBe('ingress_4.11.2_up1');
    const reference = JSON.stringify(stack.resolve(sync.chartReference));
    expect(reference).toMatch(/^\{"Fn::Join":\["",\["oci:\/\/",/);
    expect(reference).toMatch(/"@",\{"Fn::GetAtt":\["Ingress[0-9A-F]+","ImageDigest"\]\}\]\]\}$/);
  });

  test('pins the expected digest, takes the tag given, and grants reading only the credentials secret', () => {
    const stack = newStack();
    new ImageSync(stack, 'Web', {
      source: ImageSource.fromHelmRepository(URL, 'web', '1.0.0', {
        credentials: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Login', SECRET_ARN),
        expectedDigest: DIGEST,
      }),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      tag: 'stable',
    });

    const template = Template.fromStack(stack);
    template.hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      SourceKind: 'HelmRepository', ExpectedSourceDigest: DIGEST, CredentialsSecretArn: SECRET_ARN, DestinationTag: 'web_stable',
    });
    const secretStatements = policyStatements(template, SHARED_ROLE_PREFIX).filter((s) => JSON.stringify(s.Action).includes('secretsmanager'));
    expect(secretStatements).toEqual([expect.objectContaining({ Resource: SECRET_ARN })]);
  });

  test('accepts plain HTTP to a loopback host (a local repository)', () => {
    expect(() => ImageSource.fromHelmRepository('http://127.0.0.1:8879/charts', 'web', '1.0.0')).not.toThrow();
  });

  test.each([
    ['plain HTTP to a remote host', 'http://charts.example.com', /repositoryUrl: "http:\/\/charts\.example\.com" is not allowed: an https:\/\/ URL .*\(plain HTTP is allowed for a loopback host only\)/],
    ['the instance metadata service', 'http://169.254.169.254/latest', /repositoryUrl: "http:\/\/169\.254\.169\.254\/latest" is not allowed/],
    ['a link-local host over https', 'https://169.254.10.1/charts', /\(the host 169\.254\.10\.1 is a link-local, unspecified or metadata address\)/],
    ['the metadata service over IPv6', 'https://[fd00:ec2::254]/', /\(the host \[fd00:ec2::254\] is a link-local, unspecified or metadata address\)/],
    ['the metadata service by name', 'https://instance-data/charts', /\(the host instance-data is a link-local, unspecified or metadata address\)/],
    ['credentials in the URL', 'https://user:pass@charts.example.com', /\(it carries credentials \(give them as a Secrets Manager secret\)\)/],
    ['another scheme', 'oci://charts.example.com/web', /\(the scheme oci: is not https\)/],
    ['no URL at all', 'charts.example.com', /\(not a URL\)/],
  ])('fails on a repository URL naming %s', (_name, url, message) => {
    expect(() => ImageSource.fromHelmRepository(url, 'web', '1.0.0')).toThrow(message);
  });

  test('fails on every bad prop at once: chart name, version and expected digest', () => {
    expect(() => ImageSource.fromHelmRepository(URL, 'acme/web', 'latest', { expectedDigest: 'sha256:12' })).toThrow(new RegExp([
      'Invalid ImageSource.fromHelmRepository props:',
      '  - chart: "acme/web" is not allowed: a chart name of 1-250 letters, digits, ".", "_" and "-"',
      '  - version: "latest" is not allowed: a semantic version as the index lists it',
      '  - expectedDigest: "sha256:12" is not allowed',
    ].map((line) => line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')));
  });

  test('fails when the ImageSync asks for platforms or a signature verification the chart cannot have', () => {
    const stack = newStack();
    expect(() => new ImageSync(stack, 'Web', {
      source: ImageSource.fromHelmRepository(URL, 'web', '1.0.0'),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      platforms: [ecr_assets.Platform.LINUX_ARM64],
      verification: SignatureVerification.cosignKeys([KEY]),
    })).toThrow(/platforms: \["linux\/arm64"\] is not allowed: no platforms with a Helm repository or archive source[\s\S]*verification: "<SignatureVerification>" is not allowed/);
  });

  test('imports the chart into a tenant repository too', () => {
    const stack = newStack();
    const tenant = new TenantRepository(stack, 'Tenant');
    const imported = tenant.importImage('Nginx', { source: ImageSource.fromHelmRepository(URL, 'nginx', '15.4.2', { expectedDigest: DIGEST }) });

    expect(imported.imageTag).toBe('15.4.2');
    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, { SourceKind: 'HelmRepository', DestinationTag: '15.4.2', ExpectedSourceDigest: DIGEST });
  });

  test('passes cdk-nag AwsSolutions with credentials, into an install repository', () => {
    const stack = newStack();
    new ImageSync(stack, 'Web', {
      source: ImageSource.fromHelmRepository(URL, 'web', '1.0.0', { credentials: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Login', SECRET_ARN) }),
      destination: ImageSyncDestination.fromInstallRepository(new InstallRepository(stack, 'Repo')),
    });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`)).toEqual([]);
  });
});
