import { parsePlatform } from '../../src/platform';
import { Descriptor, OCI_MANIFEST } from '../../src/sync/manifest-format';
import { selectPlatforms } from '../../src/sync/manifest-tree';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('selectPlatforms', () => {
  test('keeps the attestation manifests of the platforms it keeps, and only those', () => {
    const entry = (digest: string, os: string, architecture: string, annotations?: { [k: string]: string }): Descriptor =>
      ({ mediaType: OCI_MANIFEST, digest, size: 1, platform: { os, architecture }, annotations });
    const amd = entry(D(1), 'linux', 'amd64');
    const arm = entry(D(2), 'linux', 'arm64');
    const amdAttestation = entry(D(3), 'unknown', 'unknown', { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': D(1) });
    const armAttestation = entry(D(4), 'unknown', 'unknown', { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': D(2) });
    expect(selectPlatforms([amd, arm, amdAttestation, armAttestation], [parsePlatform('linux/arm64')])).toEqual([arm, armAttestation]);
  });
});
