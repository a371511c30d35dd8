import { DOCKER_MANIFEST_LIST, OCI_ARTIFACT_MANIFEST, OCI_INDEX, OCI_MANIFEST, parseManifest } from '../../src/sync/manifest-format';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseManifest', () => {
  test('reads an image manifest\'s config, layers and subject', () => {
    const parsed = parseManifest(json({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: D(1), size: 2 },
      layers: [{ mediaType: 'application/spdx+json', digest: D(2), size: 10 }],
      subject: { mediaType: OCI_MANIFEST, digest: D(3), size: 100 },
    }), undefined);
    expect(parsed.config?.digest).toBe(D(1));
    expect(parsed.layers.map(l => l.digest)).toEqual([D(2)]);
    expect(parsed.subject?.digest).toBe(D(3));
  });

  test('tells an index from an image by its fields when mediaType is omitted', () => {
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] }), 'application/json').mediaType).toBe(OCI_INDEX);
    expect(parseManifest(json({ schemaVersion: 2, config: { mediaType: 'x', digest: D(1), size: 1 }, layers: [] }), undefined).mediaType).toBe(OCI_MANIFEST);
  });

  test('takes the media type from the Content-Type header when the body has none', () => {
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] }), `${DOCKER_MANIFEST_LIST}; charset=utf-8`).mediaType).toBe(DOCKER_MANIFEST_LIST);
  });

  test('reads the blobs of an OCI artifact manifest', () => {
    const parsed = parseManifest(json({ mediaType: OCI_ARTIFACT_MANIFEST, artifactType: 'x', blobs: [{ mediaType: 'y', digest: D(4), size: 3 }] }), undefined);
    expect(parsed.layers.map(l => l.digest)).toEqual([D(4)]);
  });

  test.each([
    ['not JSON', Buffer.from('{'), /not valid JSON/],
    ['a JSON array', json([]), /not a JSON object/],
    ['a schema 1 manifest', json({ schemaVersion: 1, fsLayers: [] }), /schema 1 manifests are deprecated/],
    ['an unknown media type', json({ mediaType: 'application/x-unknown' }), /unsupported manifest media type/],
    ['an index without manifests', json({ mediaType: OCI_INDEX }), /has no "manifests" list/],
    ['a sha512 layer', json({ mediaType: OCI_MANIFEST, config: { mediaType: 'x', digest: D(1), size: 1 }, layers: [{ mediaType: 'x', digest: 'sha512:ab', size: 1 }] }),
      /layers\[0\]\.digest "sha512:ab" is not a sha256 digest/],
    ['a negative size', json({ mediaType: OCI_MANIFEST, config: { mediaType: 'x', digest: D(1), size: -1 }, layers: [] }), /config\.size -1/],
    ['a descriptor without media type', json({ mediaType: OCI_MANIFEST, config: { digest: D(1), size: 1 }, layers: [] }), /config\.mediaType is missing/],
    ['a platform without architecture', json({ mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: D(1), size: 1, platform: { os: 'linux' } }] }),
      /manifests\[0\]\.platform needs "os" and "architecture"/],
  ])('fails on %s', (_name, bytes, message) => {
    expect(() => parseManifest(bytes, undefined)).toThrow(message);
  });
});
