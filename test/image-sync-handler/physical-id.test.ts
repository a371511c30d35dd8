import { parsePhysicalId, physicalId } from '../../src/image-sync-handler/physical-id';

const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';

describe('image-sync physical ids', () => {
  test('reads back the repository, tag and digest of a physical id', () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    expect(parsePhysicalId(`127.0.0.1:5000/a/b:v1@${digest}`)).toEqual({ repositoryUri: '127.0.0.1:5000/a/b', tag: 'v1', digest, written: true });
    expect(parsePhysicalId(`${INSTALL_HOST}/a:v1`)).toBeUndefined();
    expect(parsePhysicalId('AWSCDK::CustomResourceProviderFramework::CREATE_FAILED')).toBeUndefined();
  });

  test('names a copied image by repository, tag and digest, and a pending one without the digest', () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    expect(physicalId(`${INSTALL_HOST}/a`, 'v1')).toBe(`${INSTALL_HOST}/a:v1`);
    expect(parsePhysicalId(physicalId(`${INSTALL_HOST}/a`, 'v1', digest))).toEqual({ repositoryUri: `${INSTALL_HOST}/a`, tag: 'v1', digest, written: true });
  });

  test('records a tag found in place apart from one this resource wrote', () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    const found = physicalId(`${INSTALL_HOST}/a`, 'v1', digest, false);
    expect(found).toBe(`${INSTALL_HOST}/a:v1@${digest}#found`);
    expect(parsePhysicalId(found)).toEqual({ repositoryUri: `${INSTALL_HOST}/a`, tag: 'v1', digest, written: false });
    expect(parsePhysicalId(`${INSTALL_HOST}/a:v1#found`)).toBeUndefined();
  });
});
