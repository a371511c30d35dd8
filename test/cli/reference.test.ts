import { parseCliReference } from '../../src/cli/reference';

describe('parseCliReference', () => {
  test.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: undefined, digest: undefined }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['user/app', { registry: 'docker.io', repository: 'user/app', tag: undefined }],
    ['user/app:v2', { registry: 'docker.io', repository: 'user/app', tag: 'v2' }],
    [`nginx@sha256:${'a'.repeat(64)}`, { registry: 'docker.io', repository: 'library/nginx', digest: `sha256:${'a'.repeat(64)}` }],
    ['docker://nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['docker://127.0.0.1:5000/team/app:v1', { registry: '127.0.0.1:5000', repository: 'team/app', tag: 'v1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app', { registry: 'localhost:5000', repository: 'app' }],
    ['ghcr.io/org/app:v1', { registry: 'ghcr.io', repository: 'org/app', tag: 'v1' }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
  ])('reads %s as docker does', (text, expected) => {
    expect(parseCliReference(text)).toMatchObject(expected);
  });

  test.each([
    ['oci:/tmp/layout', /names the oci transport; only registries are supported/],
    ['docker-archive:image.tar', /names the docker-archive transport/],
    ['Nginx', /Invalid image reference "docker.io\/library\/Nginx".*read as a Docker Hub name from "Nginx"/],
    ['docker://', /it is empty/],
    ['https://ghcr.io/org/app', /Invalid image reference "https:\/\/ghcr.io\/org\/app"/],
  ])('fails on %s, saying why', (text, message) => {
    expect(() => parseCliReference(text)).toThrow(message);
  });
});
