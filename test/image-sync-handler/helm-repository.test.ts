/**
 * A chart of a classic Helm repository synced into an install through the real handler and engine:
 * the install stack is synthesized with `ImageSource.fromHelmRepository`, the repository is a small
 * server on loopback (index.yaml + archives), and the install's "ECR" is a basic-auth loopback
 * registry behind a mocked GetAuthorizationToken. The pushed chart is pulled the way helm pulls it
 * and compared with what `chart import` pushes.
 */
import * as crypto from 'crypto';
import { PassThrough } from 'stream';
import * as zlib from 'zlib';
import { ECRClient } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { mockClient } from 'aws-sdk-client-mock';
import { chartCommand } from '../../src/cli/chart';
import { ImageSource } from '../../src/image-source';
import { ImageSync } from '../../src/image-sync';
import { Attributes, IMAGE_SYNC_RESOURCE_TYPE, Props } from '../../src/image-sync-contract';
import { ImageSyncDestination } from '../../src/image-sync-destination';
import { HandlerDependencies } from '../../src/image-sync-handler/dependencies';
import { IsCompleteResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { fakeEcrLogin, handlerDependencies, runProvider, useFunctionRoleCredentials } from '../support/handler-bed';
import { ClassicRepo, pullChartLikeHelm, startClassicRepo } from '../support/helm';
import { newStack } from '../support/image-sync';
import { listTags, makeTar, readBlob, readManifest } from '../support/images';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:charts-login-AbCdEf';
const CREATED = '2026-03-04T05:06:07.123456789Z';

const ecrMock = mockClient(ECRClient);
const secretsMock = mockClient(SecretsManagerClient);

let install: TestRegistry;
let repo: ClassicRepo;
let tampered: ClassicRepo;
let guarded: ClassicRepo;
let seq = 0;

/** A chart archive as another tool packs it. */
function archive(name: string, version: string): Buffer {
  return zlib.gzipSync(makeTar([
    { name: `${name}/Chart.yaml`, data: Buffer.from(`apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: From a classic repository\n`) },
    { name: `${name}/values.yaml`, data: Buffer.from(`nonce: ${crypto.randomBytes(4).toString('hex')}\n`) },
    { name: `${name}/templates/cm.yaml`, data: Buffer.from('kind: ConfigMap\n') },
  ]));
}

beforeAll(async () => {
  useFunctionRoleCredentials();
  install = await startRegistry({ auth: 'basic' });
  repo = await startClassicRepo([
    { name: 'nginx', version: '15.4.2', archive: archive('nginx', '15.4.2'), created: CREATED },
    { name: 'nginx', version: '15.5.0+up1', archive: archive('nginx', '15.5.0+up1') },
  ]);
  tampered = await startClassicRepo([{ name: 'nginx', version: '15.4.2', archive: archive('nginx', '15.4.2'), digest: 'ab'.repeat(32) }]);
  guarded = await startClassicRepo([{ name: 'nginx', version: '15.4.2', archive: archive('nginx', '15.4.2') }], {
    auth: { username: 'charts', password: 'chart-password-1' },
  });
});

afterAll(async () => {
  await Promise.all([repo.stop(), tampered.stop(), guarded.stop()]);
  await stopAll();
});

beforeEach(() => {
  ecrMock.reset();
  secretsMock.reset();
  fakeEcrLogin(ecrMock, install, 12 * 3600_000);
});

function deps(log: string[] = []): HandlerDependencies {
  return handlerDependencies({ [INSTALL_HOST]: install.host }, log);
}

/** The resource properties the install stack synthesizes for the source. */
function synth(source: (stack: ReturnType<typeof newStack>) => ImageSource, tag?: string): { [key: string]: any } {
  const stack = newStack();
  new ImageSync(stack, 'Web', { source: source(stack), destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')), tag });
  const { ServiceToken: _, ...properties } = Object.values(Template.fromStack(stack).findResources(IMAGE_SYNC_RESOURCE_TYPE))[0].Properties;
  return properties;
}

/** The event CloudFormation sends, with the destination repository's tokens resolved as at deploy time. */
function event(properties: { [key: string]: any }, repository: string, requestType: 'Create' | 'Update' = 'Create'): ImageSyncEvent {
  return {
    RequestType: requestType,
    RequestId: `req-${++seq}`,
    StackId: 'arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1',
    LogicalResourceId: 'WebChart',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResourceProperties: {
      ...properties,
      [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${repository}`,
      [Props.DESTINATION_REPOSITORY_NAME]: repository,
    },
  };
}

async function run(e: ImageSyncEvent, d = deps()): Promise<IsCompleteResponse> {
  return runProvider(e, d, { remainingMs: 14 * 60_000 });
}

/** What `chart import` pushes for the same chart (into a repository of its own). */
async function importedDigest(url: string, chart: string, version: string): Promise<{ repository: string; digest: string }> {
  const repository = `cli/${chart}${++seq}`;
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const code = await chartCommand(['import', url, chart, version, `${install.host}/${repository}`, '--dest-creds', `${install.username}:${install.password}`],
    { stdout: out, stderr: new PassThrough(), env: {} });
  expect(code).toBe(0);
  return { repository, digest: Buffer.concat(chunks).toString().trim().split('@')[1] };
}

describe('Helm repository source', () => {
  test('pushes the chart version as Helm\'s artifact, with the digest chart import gives, under the family\'s version tag', async () => {
    const repository = `install/web${++seq}`;
    const properties = synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.5.0+up1'));

    const result = await run(event(properties, repository));

    const digest = result.Data![Attributes.IMAGE_DIGEST];
    expect(result.Data).toMatchObject({
      [Attributes.IMAGE_TAG]: 'web_15.5.0_up1',
      [Attributes.IMAGE_URI]: `${INSTALL_HOST}/${repository}@${digest}`,
      [Attributes.MEDIA_TYPE]: 'application/vnd.oci.image.manifest.v1+json',
      [Attributes.BLOBS_COPIED]: '2',
    });
    const imported = await importedDigest(repo.url, 'nginx', '15.5.0+up1');
    expect(digest).toBe(imported.digest);
    // chart import's tag is the version: helm pulls it by helm's rules, and it is the same manifest.
    const pulled = await pullChartLikeHelm(install, imported.repository, '15.5.0_up1');
    expect(pulled.digest).toBe(digest);
    const manifest = JSON.parse((await readManifest(install, repository, 'web_15.5.0_up1'))!.body.toString('utf8'));
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(manifest.layers.map((l: any) => l.mediaType)).toEqual(['application/vnd.cncf.helm.chart.content.v1.tar+gzip']);
  });

  test('pushes the archive bytes unchanged, with created from the index entry', async () => {
    const repository = `install/web${++seq}`;
    const properties = synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.4.2'), '15.4.2');

    await run(event(properties, repository));

    const manifest = JSON.parse((await readManifest(install, repository, 'web_15.4.2'))!.body.toString('utf8'));
    expect(manifest.annotations['org.opencontainers.image.created']).toBe('2026-03-04T05:06:07Z');
    const served = Buffer.from(await (await fetch(`${repo.url}/nginx-15.4.2.tgz`)).arrayBuffer());
    expect(await readBlob(install, repository, manifest.layers[0].digest)).toEqual(served);
  });

  test('is a no-op on a re-run: nothing is written, and with an expected digest the repository is not even asked', async () => {
    const repository = `install/web${++seq}`;
    const first = await run(event(synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.4.2')), repository));
    const digest = first.Data![Attributes.IMAGE_DIGEST];

    const again = await run(event(synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.4.2')), repository, 'Update'));
    expect(again.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: digest, [Attributes.BLOBS_COPIED]: '0', [Attributes.BYTES_COPIED]: '0' });

    const before = repo.requests.length;
    const pinned = await run(event(synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.4.2', { expectedDigest: digest })), repository, 'Update'));
    expect(pinned.Data).toMatchObject({ [Attributes.IMAGE_DIGEST]: digest, [Attributes.BLOBS_COPIED]: '0' });
    expect(repo.requests.length).toBe(before);
  });

  test('fails on an archive that does not match the index digest, and pushes nothing', async () => {
    const repository = `install/web${++seq}`;
    const properties = synth(() => ImageSource.fromHelmRepository(tampered.url, 'nginx', '15.4.2'));

    await expect(run(event(properties, repository))).rejects.toThrow(
      new RegExp(`hashes to sha256:[a-f0-9]{64} but .*index\\.yaml gives sha256:${'ab'.repeat(32)} for nginx 15\\.4\\.2; nothing was pushed`));
    expect(await listTags(install, repository)).toEqual([]);
  });

  test('fails when the chart is not the expected digest, and pushes nothing', async () => {
    const repository = `install/web${++seq}`;
    const other = `sha256:${'cd'.repeat(32)}`;
    const properties = synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.4.2', { expectedDigest: other }));

    await expect(run(event(properties, repository))).rejects.toThrow(
      new RegExp(`gives the chart artifact sha256:[a-f0-9]{64}, not the expected ${other} .*nothing was pushed`));
    expect(await listTags(install, repository)).toEqual([]);
  });

  test('fails naming the versions the index has when the version is not there', async () => {
    const properties = synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '9.9.9'));

    await expect(run(event(properties, `install/web${++seq}`))).rejects.toThrow(/chart "nginx" has no version "9\.9\.9"; it has "15\.4\.2", "15\.5\.0\+up1"/);
  });

  test('reads the credentials from the secret, sends them to the repository, and never logs them', async () => {
    const repository = `install/web${++seq}`;
    secretsMock.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'charts', password: 'chart-password-1' }) });
    const properties = synth((stack) => ImageSource.fromHelmRepository(guarded.url, 'nginx', '15.4.2', {
      credentials: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Login', SECRET_ARN),
    }));
    const log: string[] = [];

    const result = await run(event(properties, repository), deps(log));

    expect(result.Data?.[Attributes.IMAGE_TAG]).toBe('web_15.4.2');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(guarded.requests).toContain('/charts/index.yaml');
    expect(log.join('\n')).not.toContain('chart-password-1');
  });

  test('fails on a repository that refuses without credentials, saying so', async () => {
    const properties = synth(() => ImageSource.fromHelmRepository(guarded.url, 'nginx', '15.4.2'));

    await expect(run(event(properties, `install/web${++seq}`))).rejects.toThrow(/index\.yaml answered HTTP 401/);
  });

  test.each([
    ['a link-local host', 'http://169.254.169.254/charts', /HelmRepositoryUrl "http:\/\/169\.254\.169\.254\/charts" is refused/],
    ['plain HTTP to a remote host', 'http://charts.example.com', /plain HTTP is allowed for a loopback host only/],
  ])('refuses a hand-written template naming %s', async (_name, url, message) => {
    const properties = { ...synth(() => ImageSource.fromHelmRepository(repo.url, 'nginx', '15.4.2')), [Props.HELM_REPOSITORY_URL]: url };

    await expect(run(event(properties, `install/web${++seq}`))).rejects.toThrow(message);
  });
});
