import { IMAGE_SYNC_RESOURCE_TYPE, Props, SourceKinds } from '../../src/image-sync-contract';
import { BUDGET_KEY, ImageSyncEvent, PHASE_KEY, STARTED_KEY, describeEvent, parseEvent } from '../../src/image-sync-handler/request';

const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';
const DIGEST = `sha256:${'c'.repeat(64)}`;
const PROPERTIES = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:444455556666:function:framework-onEvent',
  [Props.SOURCE_KIND]: SourceKinds.REGISTRY,
  [Props.SOURCE_IMAGE]: 'ghcr.io/acme/app:1.4.2',
  [Props.EXTERNAL_ID]: 'install-acme-0042',
  [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/install/app`,
  [Props.DESTINATION_REPOSITORY_NAME]: 'install/app',
  [Props.DESTINATION_TAG]: '1.4.2',
  [Props.PLATFORMS]: ['linux/arm64'],
  [Props.REMOVE_ON_DELETE]: 'true',
};

function event(requestType: ImageSyncEvent['RequestType'], extra: Partial<ImageSyncEvent> = {}): ImageSyncEvent {
  return {
    RequestType: requestType,
    LogicalResourceId: 'AppImage',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResponseURL: 'https://cloudformation-custom-resource-response.s3.amazonaws.com/signed?X-Amz-Signature=secret',
    ResourceProperties: PROPERTIES,
    ...extra,
  };
}

describe('parseEvent', () => {
  test('reads a Create once: parsed references, the logical id and the tag', () => {
    const request = parseEvent(event('Create'));

    expect(request).toMatchObject({ step: 'start', requestType: 'Create', logicalId: 'AppImage' });
    expect(request.step === 'start' && request.sync).toMatchObject({
      kind: SourceKinds.REGISTRY,
      source: { registry: 'ghcr.io', repository: 'acme/app', tag: '1.4.2' },
      destination: { registry: INSTALL_HOST, repository: 'install/app', tag: '1.4.2' },
      destinationRepositoryUri: `${INSTALL_HOST}/install/app`,
      platforms: ['linux/arm64'],
      removeOnDelete: true,
      totalTimeoutSeconds: 3600,
    });
  });

  test('reads the isComplete phase of an Update with its budget and start time', () => {
    const request = parseEvent(event('Update', { [PHASE_KEY]: 'isComplete', [BUDGET_KEY]: 5_000, [STARTED_KEY]: 1_000 }));

    expect(request).toMatchObject({ step: 'copy', requestType: 'Update', budgetEndsAt: 5_000, startedAt: 1_000 });
  });

  test('reads a Delete with what its physical id says was copied', () => {
    const request = parseEvent(event('Delete', { PhysicalResourceId: `${INSTALL_HOST}/install/app:1.4.2@${DIGEST}` }));

    expect(request).toMatchObject({ step: 'delete', copied: { repositoryUri: `${INSTALL_HOST}/install/app`, tag: '1.4.2', digest: DIGEST } });
    expect(parseEvent(event('Delete', { [PHASE_KEY]: 'isComplete' }))).toEqual({ step: 'delete-done', requestType: 'Delete', logicalId: 'AppImage' });
  });

  test('reads a Delete whose properties cannot be read as one that keeps everything', () => {
    const request = parseEvent(event('Delete', { ResourceProperties: { [Props.SOURCE_KIND]: 'Ftp' } }));

    expect(request).toMatchObject({ step: 'delete' });
    expect(request.step === 'delete' && request.sync).toBeUndefined();
  });

  test('fails on invalid properties of a Create, and on an unknown request type', () => {
    expect(() => parseEvent(event('Create', { ResourceProperties: { ...PROPERTIES, [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/install/app:v1` } })))
      .toThrow(new RegExp(`^Invalid ${IMAGE_SYNC_RESOURCE_TYPE} properties: ${Props.DESTINATION_REPOSITORY_URI}: Invalid image reference`));
    expect(() => parseEvent({ ...event('Create'), RequestType: 'Replace' as 'Create' })).toThrow('Unsupported request type "Replace"');
  });

  test('reads the digest the source tag must name', () => {
    const request = parseEvent(event('Create', { ResourceProperties: { ...PROPERTIES, [Props.EXPECTED_SOURCE_DIGEST]: DIGEST } }));

    expect(request.step === 'start' && request.sync.expectedSourceDigest).toBe(DIGEST);
  });

  test('fails on an expected source digest that is no digest, or contradicts the source digest', () => {
    expect(() => parseEvent(event('Create', { ResourceProperties: { ...PROPERTIES, [Props.EXPECTED_SOURCE_DIGEST]: 'latest' } })))
      .toThrow(`${Props.EXPECTED_SOURCE_DIGEST} "latest" is not a sha256 digest`);
    const pinned = `sha256:${'d'.repeat(64)}`;
    const properties = { ...PROPERTIES, [Props.SOURCE_IMAGE]: `ghcr.io/acme/app@${pinned}`, [Props.EXPECTED_SOURCE_DIGEST]: DIGEST };
    expect(() => parseEvent(event('Create', { ResourceProperties: properties })))
      .toThrow(`${Props.EXPECTED_SOURCE_DIGEST} ${DIGEST} contradicts the digest ${pinned} of ${Props.SOURCE_IMAGE}`);
  });

  test('reads an OCI archive source as its S3 object, pinned to the expected digest', () => {
    const { [Props.SOURCE_IMAGE]: _, [Props.PLATFORMS]: __, ...rest } = PROPERTIES;
    const properties = {
      ...rest,
      [Props.SOURCE_KIND]: SourceKinds.OCI_ARCHIVE,
      [Props.SOURCE_BUCKET]: 'assets',
      [Props.SOURCE_OBJECT_KEY]: 'abc.tar',
      [Props.EXPECTED_SOURCE_DIGEST]: DIGEST,
    };
    const request = parseEvent(event('Create', { ResourceProperties: properties }));

    expect(request.step === 'start' && request.sync.archive).toEqual({ bucket: 'assets', key: 'abc.tar' });
    expect(request.step === 'start' && request.sync.source.digest).toBe(DIGEST);
  });

  test('fails on an OCI archive source without its object or expected digest, or with a source image', () => {
    const properties = { ...PROPERTIES, [Props.SOURCE_KIND]: SourceKinds.OCI_ARCHIVE };
    expect(() => parseEvent(event('Create', { ResourceProperties: properties }))).toThrow(new RegExp([
      `${Props.SOURCE_BUCKET} is missing`,
      `${Props.SOURCE_OBJECT_KEY} is missing`,
      `${Props.SOURCE_IMAGE} is not allowed with ${Props.SOURCE_KIND} OciArchive: the archive's ${Props.EXPECTED_SOURCE_DIGEST} names the artifact`,
      `${Props.EXPECTED_SOURCE_DIGEST} is missing \\(required with ${Props.SOURCE_KIND} OciArchive\\)`,
    ].join('; ')));
  });
});

describe('describeEvent', () => {
  test('leaves out the response URL, the service token and the external id', () => {
    const text = JSON.stringify(describeEvent(event('Create')));

    expect(text).not.toMatch(/X-Amz-Signature|ServiceToken|install-acme-0042/);
    expect(JSON.parse(text)).toMatchObject({ requestType: 'Create', logicalResourceId: 'AppImage', properties: { [Props.EXTERNAL_ID]: '***' } });
  });

  test('reads a Helm repository source as its repository, chart and version, the tag as Helm writes the version', () => {
    const { [Props.SOURCE_IMAGE]: _, [Props.PLATFORMS]: __, ...rest } = PROPERTIES;
    const properties = {
      ...rest,
      [Props.SOURCE_KIND]: SourceKinds.HELM_REPOSITORY,
      [Props.HELM_REPOSITORY_URL]: 'https://charts.example.com/stable',
      [Props.HELM_CHART]: 'web',
      [Props.HELM_CHART_VERSION]: '1.2.3+build.7',
    };
    const request = parseEvent(event('Create', { ResourceProperties: properties }));

    expect(request.step === 'start' && request.sync.helm).toEqual({ repoUrl: 'https://charts.example.com/stable', chart: 'web', version: '1.2.3+build.7' });
    expect(request.step === 'start' && request.sync.source).toEqual({ registry: 'helm', repository: 'web', tag: '1.2.3_build.7' });
  });

  test('fails on a Helm repository source with a bad URL, chart or version, a source image, platforms or verification keys', () => {
    const properties = {
      ...PROPERTIES,
      [Props.SOURCE_KIND]: SourceKinds.HELM_REPOSITORY,
      [Props.HELM_REPOSITORY_URL]: 'http://[fe80::1]/charts',
      [Props.HELM_CHART]: '../web',
      [Props.HELM_CHART_VERSION]: 'latest',
      [Props.VERIFICATION_PUBLIC_KEYS]: ['-----BEGIN PUBLIC KEY-----'],
    };
    expect(() => parseEvent(event('Create', { ResourceProperties: properties }))).toThrow(new RegExp([
      `${Props.SOURCE_IMAGE} is not allowed with ${Props.SOURCE_KIND} HelmRepository`,
      `${Props.HELM_REPOSITORY_URL} "http://\\[fe80::1\\]/charts" is refused \\(plain HTTP is allowed for a loopback host only\\)`,
      `${Props.HELM_CHART} "\\.\\./web" is not a chart name`,
      `${Props.HELM_CHART_VERSION} "latest" is not a semantic version`,
      `${Props.VERIFICATION_PUBLIC_KEYS} is not allowed with ${Props.SOURCE_KIND} HelmRepository`,
      `${Props.PLATFORMS} is not allowed with ${Props.SOURCE_KIND} HelmRepository`,
    ].join('.*')));
  });
});
