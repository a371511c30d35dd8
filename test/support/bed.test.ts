import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { FaultProxy, startFaultProxy } from './fault-proxy';
import {
  allBlobs, blobExists, buildArtifact, buildImage, buildIndex, BuiltImage, expectImage, listTags, MEDIA_TYPES,
  pushImage, randomStream, readBlob, readManifest, sha256, uploadBlob, uploadStreamedBlob,
} from './images';
import { startLatencyProxy } from './latency-proxy';
import { requireTool, startRegistry, stopAll, TestRegistry } from './registry';
import { decodeJwt, verifyJwtSignature } from './token-server';

/** Tests of the test bed itself: the registries answer as real ones do, the images are right, the faults fire. */

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A plain request with no retries; rejects when the connection fails, and says how many body bytes came. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => reject(Object.assign(e, { received: Buffer.concat(chunks).length })));
      res.on('aborted', () => reject(Object.assign(new Error('aborted'), { received: Buffer.concat(chunks).length })));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function token(reg: TestRegistry, scope: string, creds?: { username: string; password: string }): Promise<RawResponse & { json: any }> {
  const url = `${reg.tokenServer!.realm}?service=${encodeURIComponent(reg.tokenServer!.service)}&scope=${encodeURIComponent(scope)}`;
  const res = await raw(url, { headers: creds ? { Authorization: basic(creds.username, creds.password) } : {} });
  return { ...res, json: res.status === 200 ? JSON.parse(res.body.toString('utf8')) : undefined };
}

function blobOf(img: BuiltImage, index = 0): [string, Buffer] {
  const layer = JSON.parse(img.manifest.toString('utf8')).layers[index];
  return [layer.digest, img.blobs.get(layer.digest)!];
}

afterAll(async () => {
  await stopAll();
});

describe('startRegistry', () => {
  test('serves the v2 API anonymously when auth is none, and holds what is pushed', async () => {
    const reg = await startRegistry();
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await raw(`${reg.url}/v2/`)).status).toBe(200);
    const img = buildImage({ layers: [2048, 4096] });
    expect(await pushImage(reg, 'team/app', 'v1', img)).toBe(img.digest);
    await expectImage(reg, 'team/app', 'v1', img);
    expect(await reg.credentials()(reg.host)).toBeUndefined();
    await reg.stop();
  });

  test('answers a Basic challenge and accepts only the htpasswd account', async () => {
    const reg = await startRegistry({ auth: 'basic' });
    const anonymous = await raw(`${reg.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm="/);
    expect((await raw(`${reg.url}/v2/`, { headers: { Authorization: basic(reg.username!, 'wrong') } })).status).toBe(401);
    expect((await raw(`${reg.url}/v2/`, { headers: { Authorization: basic(reg.username!, reg.password!) } })).status).toBe(200);
    expect(await reg.credentials()('any-host:1')).toEqual({ username: reg.username, password: reg.password });
    const img = buildImage();
    await pushImage(reg, 'app', 'v1', img);
    await expectImage(reg, 'app', 'v1', img);
    await reg.stop();
  });

  test('answers a Bearer challenge that names its token realm and service', async () => {
    const reg = await startRegistry({ auth: 'token' });
    const res = await raw(`${reg.url}/v2/app/tags/list`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="${reg.tokenServer!.realm}",service="${reg.tokenServer!.service}",scope="repository:app:pull"`);
    await reg.stop();
  });

  test('issues ES256 tokens carrying the signing certificate in x5c and the standard claims', async () => {
    const reg = await startRegistry({ auth: 'token' });
    const before = Math.floor(Date.now() / 1000);
    const res = await token(reg, 'repository:team/app:pull,push', { username: reg.username!, password: reg.password! });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(expect.objectContaining({ token: res.json.access_token, expires_in: 300, issued_at: expect.any(String) }));
    const jwt = decodeJwt(res.json.token);
    expect(jwt.header).toEqual({ typ: 'JWT', alg: 'ES256', x5c: [expect.any(String)] });
    expect(verifyJwtSignature(res.json.token)).toBe(true);
    expect(jwt.claims).toEqual({
      iss: 'test-token-issuer',
      sub: reg.username,
      aud: reg.tokenServer!.service,
      exp: expect.any(Number),
      nbf: expect.any(Number),
      iat: expect.any(Number),
      jti: expect.stringMatching(/^[a-f0-9]{24}$/),
      access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
    });
    expect(jwt.claims.iat).toBeGreaterThanOrEqual(before);
    // The registry accepts it: a push with the token succeeds.
    const bearer = { Authorization: `Bearer ${res.json.token}` };
    expect((await raw(`${reg.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: bearer })).status).toBe(202);
    await reg.stop();
  });

  test('grants only what the scope asks for and what the account may do', async () => {
    const reg = await startRegistry({ auth: 'token' });
    const writer = { username: reg.username!, password: reg.password! };
    const pullOnly = await token(reg, 'repository:app:pull', writer);
    expect(decodeJwt(pullOnly.json.token).claims.access).toEqual([{ type: 'repository', name: 'app', actions: ['pull'] }]);
    const refused = await raw(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${pullOnly.json.token}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('error="insufficient_scope"');

    const otherRepo = await raw(`${reg.url}/v2/other/tags/list`, { headers: { Authorization: `Bearer ${pullOnly.json.token}` } });
    expect(otherRepo.status).toBe(401);

    const reader = await token(reg, 'repository:app:pull,push', reg.readOnlyUser);
    expect(decodeJwt(reader.json.token).claims.access).toEqual([{ type: 'repository', name: 'app', actions: ['pull'] }]);

    const anonymous = await token(reg, 'repository:app:pull');
    expect(anonymous.status).toBe(200);
    expect(decodeJwt(anonymous.json.token).claims.access).toEqual([]);

    const wrong = await token(reg, 'repository:app:pull', { username: reg.username!, password: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(reg.tokenServer!.requests.map((r) => [r.account, r.status, r.granted])).toEqual([
      [reg.username, 200, ['repository:app:pull']],
      ['reader', 200, ['repository:app:pull']],
      [undefined, 200, []],
      [reg.username, 401, []],
    ]);
    await reg.stop();
  });

  test('lets anonymous clients pull, and only pull, when anonymousPull is set', async () => {
    const reg = await startRegistry({ auth: 'token', anonymousPull: true });
    const img = buildImage();
    await pushImage(reg, 'public/app', 'v1', img);
    const anonymous = await token(reg, 'repository:public/app:pull,push');
    expect(decodeJwt(anonymous.json.token).claims.access).toEqual([{ type: 'repository', name: 'public/app', actions: ['pull'] }]);
    const bearer = { Authorization: `Bearer ${anonymous.json.token}` };
    expect((await raw(`${reg.url}/v2/public/app/manifests/v1`, { headers: { ...bearer, Accept: img.mediaType } })).body.equals(img.manifest)).toBe(true);
    expect((await raw(`${reg.url}/v2/public/app/blobs/uploads/`, { method: 'POST', headers: bearer })).status).toBe(401);
    await expectImage({ host: reg.host, auth: 'none' }, 'public/app', 'v1', img).catch((e) => {
      throw new Error(`fails: a client without credentials cannot read back the public image: ${e.message}`);
    });
    await reg.stop();
  });

  test('keeps issuing tokens while the test process blocks in a synchronous child process', async () => {
    const reg = await startRegistry({ auth: 'token' });
    const script = `fetch(${JSON.stringify(`${reg.tokenServer!.realm}?service=${reg.tokenServer!.service}&scope=repository:app:pull`)}, `
      + `{ headers: { Authorization: ${JSON.stringify(basic(reg.username!, reg.password!))} } }).then((r) => console.log(r.status))`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.trim()).toBe('200');
    expect(reg.tokenServer!.requests.map((r) => r.granted)).toEqual([['repository:app:pull']]);
    await reg.stop();
  });

  test('stops accepting a token once tokenTtlSeconds have passed', async () => {
    const reg = await startRegistry({ auth: 'token', tokenTtlSeconds: 2 });
    const res = await token(reg, 'repository:app:pull', { username: reg.username!, password: reg.password! });
    expect(res.json.expires_in).toBe(2);
    const bearer = { Authorization: `Bearer ${res.json.token}` };
    expect((await raw(`${reg.url}/v2/app/tags/list`, { headers: bearer })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 3200));
    const expired = await raw(`${reg.url}/v2/app/tags/list`, { headers: bearer });
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toContain('error="invalid_token"');
    await reg.stop();
  });

  test('serves HTTPS with a certificate of the per-run CA when tls is set, and nothing over plain HTTP', async () => {
    const reg = await startRegistry({ tls: true, auth: 'basic' });
    expect(reg.url).toBe(`https://${reg.host}`);
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${reg.url}/v2/`, { ca: reg.tls!.ca, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(401);
    await expect(new Promise((resolve, reject) => {
      https.get(`${reg.url}/v2/`, { agent: false }, resolve).on('error', reject);
    })).rejects.toThrow(/self-signed certificate in certificate chain|unable to verify/);
    expect((await raw(`http://${reg.host}/v2/`)).status).toBe(400);
    expect(fs.readdirSync(reg.tls!.certDir)).toEqual(['ca.crt']);
    const img = buildImage();
    await pushImage(reg, 'tls/app', 'v1', img);
    await expectImage(reg, 'tls/app', 'v1', img);
    await reg.stop();
  });

  test('answers through a latency proxy one round-trip time later, byte for byte', async () => {
    const reg = await startRegistry();
    const proxy = await startLatencyProxy(reg.host, 40);
    try {
      const img = buildImage({ layers: [300_000] });
      await pushImage(reg, 'latency/app', 'v1', img);
      const started = Date.now();
      const res = await raw(`http://${proxy.host}/v2/latency/app/manifests/v1`, { headers: { accept: img.mediaType } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(40);
      expect(res.status).toBe(200);
      expect(sha256(res.body)).toBe(img.digest);
      const layer = [...img.blobs.keys()].find((d) => img.blobs.get(d)!.length > 1000)!;
      expect((await raw(`http://${proxy.host}/v2/latency/app/blobs/${layer}`)).body.equals(img.blobs.get(layer)!)).toBe(true);
    } finally {
      await proxy.stop();
      await reg.stop();
    }
  });

  test('removes its storage and frees its port when stopped', async () => {
    const reg = await startRegistry({ auth: 'token' });
    await pushImage(reg, 'app', 'v1', buildImage());
    expect(fs.existsSync(reg.storageDir)).toBe(true);
    await reg.stop();
    expect(fs.existsSync(reg.storageDir)).toBe(false);
    await expect(raw(`${reg.url}/v2/`)).rejects.toThrow(/ECONNREFUSED/);
    await expect(raw(reg.tokenServer!.realm)).rejects.toThrow(/ECONNREFUSED/);
  });

  test('leaves no registry or storage behind when the test process is killed with SIGKILL', async () => {
    const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-bed-')), 'killed.ts');
    fs.writeFileSync(script, [
      `import { startRegistry } from ${JSON.stringify(path.join(__dirname, 'registry'))};`,
      'startRegistry({ auth: \'basic\' }).then((r) => {',
      '  process.stdout.write(JSON.stringify({ pid: r.pid, dir: r.storageDir }) + \'\\n\', () => process.kill(process.pid, \'SIGKILL\'));',
      '});',
    ].join('\n'));
    const tsx = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    const { pid, dir } = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
      execFile(tsx, [script], { timeout: 60_000 }, (_error, stdout) => {
        try {
          resolve(JSON.parse(stdout.trim()));
        } catch {
          reject(new Error(`fails: the killed process printed ${JSON.stringify(stdout)}`));
        }
      });
    });
    const alive = () => {
      try {
        // A zombie (state Z) has exited; only its parent's reaping is missing.
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && (alive() || fs.existsSync(dir)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    fs.rmSync(path.dirname(script), { recursive: true, force: true });
  });

  test('runs several registries side by side, each with its own storage', async () => {
    const [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    expect(a.host).not.toBe(b.host);
    expect(a.storageDir).not.toBe(b.storageDir);
    const img = buildImage();
    await pushImage(a, 'app', 'v1', img);
    expect(await readManifest(b, 'app', 'v1')).toBeUndefined();
    await Promise.all([a.stop(), b.stop()]);
  });

  test('fails with install instructions when docker-registry is not on PATH', async () => {
    expect(() => requireTool('no-such-tool-for-the-bed')).toThrow(/no-such-tool-for-the-bed.*scripts\/ensure-tools\.sh/);
    const savedPath = process.env.PATH;
    process.env.PATH = '';
    try {
      await expect(startRegistry()).rejects.toThrow(/fails to find `docker-registry` on PATH.*bash scripts\/ensure-tools\.sh/);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

describe('image factory', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });

  function expectConsistent(img: BuiltImage): void {
    expect(img.digest).toBe(sha256(img.manifest));
    const manifest = JSON.parse(img.manifest.toString('utf8'));
    expect(manifest.mediaType).toBe(img.mediaType);
    if (img.children.length > 0) {
      expect(manifest.manifests.map((m: any) => [m.digest, m.size, m.mediaType]))
        .toEqual(img.children.map((c) => [c.digest, c.manifest.length, c.mediaType]));
      img.children.forEach(expectConsistent);
      return;
    }
    for (const d of [manifest.config, ...manifest.layers]) {
      expect(img.blobs.get(d.digest)?.length).toBe(d.size);
      expect(sha256(img.blobs.get(d.digest)!)).toBe(d.digest);
    }
  }

  test.each([
    ['an OCI image', () => buildImage({ layers: [10, 5000, 70000] })],
    ['a Docker image', () => buildImage({ format: 'docker', compressible: true, layers: [100000] })],
    ['an OCI index', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm64/v8'] })],
    ['a Docker manifest list', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm/v7'], format: 'docker' })],
    ['an OCI index with attestations', () => buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], attestations: true })],
    ['a Helm chart', () => buildArtifact({ kind: 'helm' })],
    ['an SBOM with a subject', () => buildArtifact({ kind: 'sbom', subject: buildImage() })],
  ])('builds %s whose digests and sizes match its bytes, and pushes it byte for byte', async (name, build) => {
    const img = build();
    expectConsistent(img);
    const repo = `kinds/${name.replace(/[^a-z]+/gi, '-').toLowerCase().replace(/^-|-$/g, '')}`;
    expect(await pushImage(reg, repo, 'v1', img)).toBe(img.digest);
    await expectImage(reg, repo, 'v1', img);
    if (img.subject) await expectImage(reg, repo, img.subject.digest, img.subject);
  });

  test('builds layers that are gzip\'d tars whose diff_ids are in the config, with the platform', () => {
    const img = buildImage({ layers: [3000, 1], platform: 'linux/arm64/v8' });
    const manifest = JSON.parse(img.manifest.toString('utf8'));
    const config = JSON.parse(img.blobs.get(manifest.config.digest)!.toString('utf8'));
    expect(config).toEqual(expect.objectContaining({ os: 'linux', architecture: 'arm64', variant: 'v8' }));
    const tars = manifest.layers.map((l: any) => zlib.gunzipSync(img.blobs.get(l.digest)!));
    expect(config.rootfs.diff_ids).toEqual(tars.map((t: Buffer) => sha256(t)));
    expect(tars[0].subarray(257, 262).toString()).toBe('ustar');
    expect(tars[0].length % 512).toBe(0);
  });

  test('builds a different image every time and indents manifests so that re-serializing changes the digest', () => {
    const a = buildImage();
    const b = buildImage();
    expect(a.digest).not.toBe(b.digest);
    expect(sha256(JSON.stringify(JSON.parse(a.manifest.toString('utf8'))))).not.toBe(a.digest);
  });

  test('builds buildx-style attestation manifests that point at the image they describe', () => {
    const img = buildIndex({ platforms: ['linux/amd64', 'linux/arm64'], attestations: true });
    const entries = JSON.parse(img.manifest.toString('utf8')).manifests;
    expect(entries.map((e: any) => `${e.platform.os}/${e.platform.architecture}`)).toEqual(['linux/amd64', 'unknown/unknown', 'linux/arm64', 'unknown/unknown']);
    expect(entries[1].annotations).toEqual({ 'vnd.docker.reference.digest': entries[0].digest, 'vnd.docker.reference.type': 'attestation-manifest' });
    expect(entries[3].annotations['vnd.docker.reference.digest']).toBe(entries[2].digest);
    expect(() => buildIndex({ platforms: ['linux/amd64'], format: 'docker', attestations: true })).toThrow(/fails: attestation manifests need an OCI index/);
  });

  test('builds artifacts with Helm media types, artifactType and subject', () => {
    const subject = buildImage();
    const helm = JSON.parse(buildArtifact({ kind: 'helm', subject }).manifest.toString('utf8'));
    expect(helm.config.mediaType).toBe(MEDIA_TYPES.helmConfig);
    expect(helm.layers[0].mediaType).toBe(MEDIA_TYPES.helmChart);
    expect(helm.subject).toEqual({ mediaType: subject.mediaType, digest: subject.digest, size: subject.manifest.length });
    const sbom = buildArtifact({ kind: 'sbom' });
    expect(sbom.artifactType).toBe(MEDIA_TYPES.spdx);
    expect(JSON.parse(sbom.manifest.toString('utf8')).artifactType).toBe(MEDIA_TYPES.spdx);
    expect(JSON.parse(sbom.manifest.toString('utf8')).subject).toBeUndefined();
  });

  test('streams large blobs in one pass and replays the same bytes from the same seed', async () => {
    const seed = Buffer.alloc(16, 7);
    const size = 3 * 1024 * 1024 + 5;
    const uploaded = await uploadStreamedBlob(reg, 'big/a', randomStream(seed, size));
    const chunks: Buffer[] = [];
    for await (const c of randomStream(seed, size, 65536)) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    expect(uploaded).toEqual({ digest: sha256(bytes), size });
    await uploadBlob(reg, 'big/b', uploaded.digest, () => randomStream(seed, size), size);
    expect((await readBlob(reg, 'big/b', uploaded.digest))!.equals(bytes)).toBe(true);
  });

  test('fails to upload a blob whose bytes do not match the digest', async () => {
    const [digest] = blobOf(buildImage());
    await expect(uploadBlob(reg, 'bad', digest, Buffer.from('not the layer'))).rejects.toThrow(/fails to upload blob .* 400/);
    expect(await blobExists(reg, 'bad', digest)).toBe(false);
  });
});

describe('fault proxy', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let img: BuiltImage;
  let digest: string;
  let layer: Buffer;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'basic' });
    proxy = await startFaultProxy(reg);
    img = buildImage({ layers: [200000] });
    await pushImage(reg, 'app', 'v1', img);
    [digest, layer] = blobOf(img);
  });
  beforeEach(() => {
    proxy.setFaults([]);
    proxy.clearRequests();
  });
  afterAll(async () => {
    await proxy.stop();
  });
  const auth = () => ({ Authorization: basic(reg.username!, reg.password!) });

  test('passes everything through, keeps uploads on the proxy and records each request', async () => {
    const other = buildImage({ layers: [1000, 2000] });
    await pushImage(proxy, 'through', 'v1', other);
    await expectImage(proxy, 'through', 'v1', other);
    await expectImage(reg, 'through', 'v1', other);
    expect(await listTags(proxy, 'through')).toEqual(['v1']);
    const puts = proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/'));
    expect(puts).toHaveLength(3);
    expect(puts.every((r) => r.status === 201 && r.authorization === 'Basic')).toBe(true);
    const perBlob = proxy.requestsPerBlob();
    for (const d of allBlobs(other).keys()) {
      expect(perBlob.get(d)!.map((r) => r.method)).toEqual(['HEAD', 'POST', 'PUT', 'GET']);
    }
    expect(JSON.stringify(proxy.requests)).not.toContain(reg.password!);
  });

  test('answers an injected status with Retry-After, the given number of times', async () => {
    proxy.setFaults([{ match: { method: 'GET', path: /\/manifests\// }, times: 2, kind: 'status', status: 429, retryAfterSeconds: 3 }]);
    const url = `${proxy.url}/v2/app/manifests/v1`;
    const first = await raw(url, { headers: auth() });
    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('3');
    expect((await raw(url, { headers: auth() })).status).toBe(429);
    expect((await raw(url, { headers: { ...auth(), Accept: img.mediaType } })).status).toBe(200);
    expect(proxy.requests.map((r) => [r.status, r.fault])).toEqual([[429, 'status'], [429, 'status'], [200, undefined]]);
  });

  test('answers 5xx to every matching request when times is not given', async () => {
    proxy.setFaults([{ match: { method: 'HEAD' }, kind: 'status', status: 503 }]);
    for (let i = 0; i < 3; i++) expect((await raw(`${proxy.url}/v2/app/blobs/${digest}`, { method: 'HEAD', headers: auth() })).status).toBe(503);
    expect((await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() })).status).toBe(200);
  });

  test('resets the connection in the middle of a blob', async () => {
    proxy.setFaults([{ match: { method: 'GET', path: /\/blobs\// }, times: 1, kind: 'reset-mid-body', afterBytes: 50000 }]);
    // Errors from Node's core may come from another realm than jest's: check their fields, not instanceof.
    const failed = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() }).then(() => undefined, (e) => e);
    expect(String(failed?.code ?? failed?.message)).toMatch(/ECONNRESET|aborted/);
    // A reset may discard bytes the client had not read yet: it sees at most the bytes sent, perhaps none.
    expect(failed.received ?? 0).toBeLessThanOrEqual(50000);
    expect(proxy.requests[0]).toEqual(expect.objectContaining({ fault: 'reset-mid-body', responseBytes: 50000 }));
    expect((await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() })).body.equals(layer)).toBe(true);
  });

  test('resets the connection in the middle of an upload, and nothing is committed', async () => {
    const other = buildImage({ layers: [300000] });
    const [d, data] = blobOf(other);
    proxy.setFaults([{ match: { method: 'PUT' }, times: 1, kind: 'reset-mid-body', afterBytes: 100000 }]);
    await expect(uploadBlob(proxy, 'up', d, data)).rejects.toThrow(/ECONNRESET|EPIPE|socket hang up/);
    expect(await blobExists(reg, 'up', d)).toBe(false);
    await uploadBlob(proxy, 'up', d, data);
    expect(await blobExists(reg, 'up', d)).toBe(true);
  });

  test('truncates a blob body and closes the connection cleanly', async () => {
    proxy.setFaults([{ match: { path: /\/blobs\// }, times: 1, kind: 'truncate', afterBytes: 1000 }]);
    const head = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { method: 'HEAD', headers: auth() });
    expect(head.status).toBe(200);
    const failed = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() }).then(() => undefined, (e) => e);
    expect(String(failed?.code ?? failed?.message)).toMatch(/ECONNRESET|aborted/);
    expect(failed.received).toBe(1000);
    expect(proxy.requests.map((r) => r.fault)).toEqual([undefined, 'truncate']);
  });

  test('corrupts one byte of a blob body and keeps its length', async () => {
    proxy.setFaults([{ match: { method: 'GET', path: /\/blobs\// }, times: 1, kind: 'corrupt', atByte: 123456 }]);
    const res = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(layer.length);
    const differing = [...res.body.keys()].filter((i) => res.body[i] !== layer[i]);
    expect(differing).toEqual([123456]);
    expect(sha256(res.body)).not.toBe(digest);
  });

  test('redirects blob GETs to another host that serves the blob and rejects an Authorization header', async () => {
    proxy.setFaults([{ match: {}, kind: 'redirect-blobs' }]);
    const manifest = await raw(`${proxy.url}/v2/app/manifests/v1`, { headers: { ...auth(), Accept: img.mediaType } });
    expect(manifest.status).toBe(200);
    const head = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { method: 'HEAD', headers: auth() });
    expect(head.status).toBe(200);
    const res = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() });
    expect(res.status).toBe(307);
    const location = new URL(String(res.headers.location));
    expect(location.host).toBe(proxy.redirectHost);
    expect(location.host).not.toBe(proxy.host);
    const withAuth = await raw(location.toString(), { headers: auth() });
    expect(withAuth.status).toBe(400);
    expect(withAuth.body.toString()).toContain('Only one auth mechanism allowed');
    const followed = await raw(location.toString());
    expect(followed.status).toBe(200);
    expect(followed.body.equals(layer)).toBe(true);
    expect(proxy.requests.filter((r) => r.listener === 'redirect').map((r) => [r.status, r.authorization])).toEqual([[400, 'Basic'], [200, undefined]]);
  });

  test('refuses to re-put an existing tag, even with the same digest, like an immutable ECR repository', async () => {
    proxy.setFaults([{ match: {}, kind: 'immutable-tags' }]);
    const other = buildImage();
    await pushImage(proxy, 'immutable', 'v1', other);
    await expect(pushImage(proxy, 'immutable', 'v1', other)).rejects.toThrow(
      /400 .*TAG_INVALID.*The image tag 'v1' already exists in the 'immutable' repository and cannot be overwritten/);
    await expect(pushImage(proxy, 'immutable', 'v1', buildImage())).rejects.toThrow(/TAG_INVALID/);
    expect(await pushImage(proxy, 'immutable', 'v2', other)).toBe(other.digest);
    expect(await pushImage(proxy, 'immutable', undefined, buildImage())).toMatch(/^sha256:/);
    await expectImage(reg, 'immutable', 'v1', other);
  });

  test('delays a matching request before forwarding it', async () => {
    proxy.setFaults([{ match: { method: 'GET', path: /\/manifests\// }, times: 1, kind: 'delay', ms: 400 }]);
    const started = Date.now();
    const res = await raw(`${proxy.url}/v2/app/manifests/v1`, { headers: { ...auth(), Accept: img.mediaType } });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(proxy.requests[0].fault).toBe('delay');
  });

  test('throttles a blob download to about the given rate', async () => {
    proxy.setFaults([{ match: { method: 'GET', path: /\/blobs\// }, kind: 'throttle', bytesPerSecond: 400_000 }]);
    const started = Date.now();
    const res = await raw(`${proxy.url}/v2/app/blobs/${digest}`, { headers: auth() });
    const seconds = (Date.now() - started) / 1000;
    expect(res.body.equals(layer)).toBe(true);
    // About 200 KB at 400 KB/s: the first chunk goes at once, the rest waits its turn.
    expect(seconds).toBeGreaterThan(0.25);
    expect(seconds).toBeLessThan(5);
  });

  test('throttles an upload body too', async () => {
    const other = buildImage({ layers: [150_000] });
    const [d, data] = blobOf(other);
    proxy.setFaults([{ match: { method: 'PUT' }, kind: 'throttle', bytesPerSecond: 300_000 }]);
    const started = Date.now();
    await uploadBlob(proxy, 'slow', d, data);
    expect((Date.now() - started) / 1000).toBeGreaterThan(0.2);
    expect(await blobExists(reg, 'slow', d)).toBe(true);
  });

  test('answers 401 with the registry\'s own challenge as if a token had expired', async () => {
    const tokenReg = await startRegistry({ auth: 'token' });
    const tokenProxy = await startFaultProxy(tokenReg);
    await pushImage(tokenProxy, 'app', 'v1', img);
    const pulled = await token(tokenReg, 'repository:app:pull', { username: tokenReg.username!, password: tokenReg.password! });
    const bearer = { Authorization: `Bearer ${pulled.json.token}` };
    tokenProxy.setFaults([{ match: { path: /\/blobs\// }, times: 1, kind: 'expire-token' }]);
    const expired = await raw(`${tokenProxy.url}/v2/app/blobs/${digest}`, { headers: bearer });
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toBe(
      `Bearer realm="${tokenReg.tokenServer!.realm}",service="${tokenReg.tokenServer!.service}",scope="repository:app:pull",error="invalid_token"`);
    // The expired token stays expired; a fresh one gets through.
    expect((await raw(`${tokenProxy.url}/v2/app/blobs/${digest}`, { headers: bearer })).status).toBe(401);
    const fresh = await token(tokenReg, 'repository:app:pull', { username: tokenReg.username!, password: tokenReg.password! });
    const refreshed = await raw(`${tokenProxy.url}/v2/app/blobs/${digest}`, { headers: { Authorization: `Bearer ${fresh.json.token}` } });
    expect(refreshed.body.equals(layer)).toBe(true);
    expect(tokenProxy.requests.slice(-3).map((r) => [r.status, r.fault])).toEqual([[401, 'expire-token'], [401, 'expire-token'], [200, undefined]]);
    await tokenProxy.stop();
    await tokenReg.stop();
  });
});
