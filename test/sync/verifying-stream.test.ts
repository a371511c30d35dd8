import * as crypto from 'crypto';
import { PassThrough, Readable, Writable, pipeline } from 'stream';
import { CopyError } from '../../src/sync/errors';
import { VerifyingStream } from '../../src/sync/verifying-stream';

function digestOf(data: Buffer): string {
  return 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');
}

/** Runs chunks through a verifier; returns what came out and the error, if any. */
async function run(chunks: Buffer[], digest: string, size: number): Promise<{ out: Buffer; error?: Error; counted: number }> {
  let counted = 0;
  const received: Buffer[] = [];
  const verifier = new VerifyingStream({ digest, size, source: 'src.example/app', onBytes: n => { counted += n; } });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      received.push(chunk);
      cb();
    },
  });
  const error = await new Promise<Error | undefined>(resolve => {
    pipeline(Readable.from(chunks), verifier, sink, err => resolve(err ?? undefined));
  });
  return { out: Buffer.concat(received), error, counted };
}

describe('VerifyingStream', () => {
  const chunks = [Buffer.alloc(1000, 1), Buffer.alloc(2000, 2), Buffer.alloc(500, 3)];
  const whole = Buffer.concat(chunks);

  test('passes every byte through when size and digest match', async () => {
    const r = await run(chunks, digestOf(whole), whole.length);
    expect(r.error).toBeUndefined();
    expect(r.out.equals(whole)).toBe(true);
    expect(r.counted).toBe(whole.length);
  });

  test('passes an empty blob', async () => {
    const r = await run([], digestOf(Buffer.alloc(0)), 0);
    expect(r.error).toBeUndefined();
    expect(r.out.length).toBe(0);
  });

  test('fails on a digest mismatch without ever releasing the last chunk', async () => {
    const corrupt = [chunks[0], chunks[1], Buffer.alloc(500, 9)];
    const r = await run(corrupt, digestOf(whole), whole.length);
    expect(r.error).toBeInstanceOf(CopyError);
    expect((r.error as CopyError).code).toBe('DIGEST_MISMATCH');
    expect(r.error!.message).toMatch(/not committed/);
    // The consumer (an upload with Content-Length = size) never gets all the bytes: it cannot commit.
    expect(r.out.length).toBeLessThan(whole.length);
  });

  test('fails on a short body', async () => {
    const r = await run(chunks.slice(0, 2), digestOf(whole), whole.length);
    expect((r.error as CopyError).code).toBe('DIGEST_MISMATCH');
    expect(r.error!.message).toMatch(/3000 bytes where its descriptor declares 3500/);
  });

  test('fails as soon as a body grows past its declared size', async () => {
    const r = await run([...chunks, Buffer.alloc(10)], digestOf(whole), whole.length);
    expect(r.error!.message).toMatch(/more than the 3500 bytes/);
    expect(r.out.length).toBeLessThan(whole.length);
  });

  test('fails on a digest that is not sha256', () => {
    expect(() => new VerifyingStream({ digest: 'sha512:abc', size: 1, source: 'x' })).toThrow(/only sha256/);
  });

  test('holds at most one chunk back (memory stays flat in the blob size)', async () => {
    const verifier = new VerifyingStream({ digest: digestOf(whole), size: whole.length, source: 'x' });
    const input = new PassThrough();
    input.pipe(verifier);
    const out: Buffer[] = [];
    verifier.on('data', (c: Buffer) => out.push(c));
    input.write(chunks[0]);
    input.write(chunks[1]);
    await new Promise(r => setImmediate(r));
    expect(Buffer.concat(out).length).toBe(1000);
    input.end(chunks[2]);
    await new Promise(r => verifier.on('end', r));
    expect(Buffer.concat(out).equals(whole)).toBe(true);
  });
});
