import { PassThrough } from 'stream';
import { ProgressDisplay, formatSeconds, summary } from '../../src/cli/progress';
import { captureStream } from '../support/cli';

/** A stream to show progress on: a terminal 200 columns wide, or not a terminal. */
function output(tty: boolean): { stream: PassThrough; text: () => string } {
  return captureStream(tty ? { isTTY: true, columns: 200 } : undefined);
}

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

describe('ProgressDisplay', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  test('shows bytes of the total, the percentage, the rate and the time left on a terminal', () => {
    const out = output(true);
    const display = new ProgressDisplay(out.stream);
    display.event({ kind: 'plan', blobs: 2, total: 4 * 1024 * 1024, message: '2 blobs to copy, 1 already there' });
    display.event({ kind: 'blob-start', digest: DIGEST_A, total: 2 * 1024 * 1024 });
    jest.advanceTimersByTime(2000);
    display.event({ kind: 'blob-progress', digest: DIGEST_A, bytes: 1024 * 1024, total: 2 * 1024 * 1024 });
    expect(out.text()).toContain('\r\x1b[K[=====>              ]  25% 1.0 MiB / 4.0 MiB at 512.0 KiB/s, ETA 6.0s; 0/2 blobs, 1 in flight');
    jest.advanceTimersByTime(2000);
    display.event({ kind: 'blob-done', digest: DIGEST_A, bytes: 2 * 1024 * 1024, total: 2 * 1024 * 1024 });
    expect(display.status()).toBe('[==========>         ]  50% 2.0 MiB / 4.0 MiB at 512.0 KiB/s, ETA 4.0s; 1/2 blobs');
    display.finish();
    expect(out.text().endsWith('\r\x1b[K')).toBe(true);
  });

  test('writes a line every two seconds to a pipe, also while no event comes, and stops when finished', () => {
    const out = output(false);
    const display = new ProgressDisplay(out.stream);
    display.event({ kind: 'plan', blobs: 1, total: 1000, message: '1 blobs to copy, 0 already there' });
    display.event({ kind: 'blob-start', digest: DIGEST_B, total: 1000 });
    display.event({ kind: 'blob-progress', digest: DIGEST_B, bytes: 100, total: 1000 });
    const first = out.text().split('\n').filter(Boolean).length;
    jest.advanceTimersByTime(6100);
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines.length - first).toBe(3);
    expect(lines[lines.length - 1]).toMatch(/^\[=*>? *\]\s+10% 100 B \/ 1000 B at .*\/s, ETA .*; 0\/1 blobs, 1 in flight$/);
    expect(out.text()).not.toContain('\x1b');
    display.finish();
    jest.advanceTimersByTime(10_000);
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(lines.length);
  });

  test('puts retries on lines of their own', () => {
    const out = output(true);
    const display = new ProgressDisplay(out.stream);
    display.event({ kind: 'retry', message: 'GET blob failed (ECONNRESET); retrying' });
    expect(out.text()).toBe('\r\x1b[Kretry: GET blob failed (ECONNRESET); retrying\n');
  });
});

describe('summary', () => {
  const MIB3 = 3 * 1024 * 1024;
  const image = { complete: true, digest: DIGEST_A, sourceDigest: DIGEST_A, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: MIB3 };
  const counts = { bytesCopied: MIB3, blobsCopied: 3, blobsSkipped: 1, blobsMounted: 0, manifestsCopied: 1, manifestsSkipped: 0 };
  const result = { ...image, ...counts, tag: 'v1', platforms: ['linux/amd64'], alreadyPresent: false, bytesTransferred: MIB3, interrupted: [] };

  test('names the digest, what moved, how long it took and the rate', () => {
    expect(summary(result, 1.5)).toBe(`copied ${DIGEST_A} (linux/amd64): 3 blobs, 3.0 MiB in 1.5s at 2.0 MiB/s; 1 blobs already there; 1 manifests written`);
  });

  test('says when nothing was copied', () => {
    expect(summary({ ...result, alreadyPresent: true, bytesCopied: 0 }, 0.2)).toBe(`already there: ${DIGEST_A} under v1, nothing copied in 0.2s`);
  });

  test.each([[4.25, '4.3s'], [42, '42s'], [185, '3m05s'], [3720, '1h02m']])('formats %d seconds as %s', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });
});
