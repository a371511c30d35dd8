import { deleteManifest, resolveDigest } from '../../src/sync/manifest-requests';
import { buildImage, pushImage, MEDIA_TYPES } from '../support/images';
import { startRegistry, stopAll, TestRegistry } from '../support/registry';

let token: TestRegistry;

beforeAll(async () => {
  token = await startRegistry({ auth: 'token' });
});

afterAll(async () => {
  await stopAll();
});

describe('resolveDigest and deleteManifest', () => {
  test('resolve a tag to its digest, delete by tag, and treat a second delete as done', async () => {
    const img = buildImage();
    const name = 'delete/me-1';
    await pushImage(token, name, 'v1', img);
    const creds = token.credentials();
    expect(await resolveDigest(`${token.host}/${name}:v1`, creds)).toBe(img.digest);
    await deleteManifest(`${token.host}/${name}:v1`, creds);
    expect(await resolveDigest(`${token.host}/${name}:v1`, creds)).toBeUndefined();
    await expect(deleteManifest(`${token.host}/${name}@${img.digest}`, creds)).resolves.toBeUndefined();
    expect(MEDIA_TYPES.ociManifest).toBe(img.mediaType);
  });
});
