import { CopyError, StoppedError } from '../../src/sync/errors';
import {
  Retry, RetryNotice, isRetryable, isRetryableNetworkError, parseRetryAfterMs, retryDelayMs, sleep, withRetries,
} from '../../src/sync/retry';

describe('retry timing', () => {
  test('honours Retry-After in seconds and as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('3', now)).toBe(3000);
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(retryDelayMs(0, '2', now)).toBe(2000);
  });

  test('caps Retry-After at a minute', () => {
    expect(retryDelayMs(0, '3600')).toBe(60_000);
  });

  test('backs off exponentially with jitter, capped at 8 s', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(200 * 2 ** attempt, 8000);
      for (let i = 0; i < 20; i++) {
        const d = retryDelayMs(attempt);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  test('treats resets and timeouts as retryable, other errors not', () => {
    expect(isRetryableNetworkError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableNetworkError(new Error('socket hang up'))).toBe(true);
    expect(isRetryableNetworkError(Object.assign(new Error('x'), { code: 'ERR_INVALID_URL' }))).toBe(false);
  });

  test('sleep wakes up with the abort reason', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new StoppedError('deadline'));
    await expect(pending).rejects.toMatchObject({ reason: 'deadline' });
  });
});

describe('withRetries', () => {
  test('tries again while an attempt asks, and returns the first value', async () => {
    const notices: RetryNotice[] = [];
    const seen: { index: number; last: boolean }[] = [];
    const value = await withRetries({ attempts: 3, onRetry: n => notices.push(n) }, async (attempt) => {
      seen.push(attempt);
      return attempt.index < 2 ? new Retry(`busy ${attempt.index}`, '0') : 'done';
    });
    expect(value).toBe('done');
    expect(seen).toEqual([{ index: 0, last: false }, { index: 1, last: false }, { index: 2, last: true }]);
    expect(notices).toEqual([{ reason: 'busy 0', attempt: 2, attempts: 3 }, { reason: 'busy 1', attempt: 3, attempts: 3 }]);
  });

  test('retries only the errors its test accepts, and throws the last attempt\'s error as it is', async () => {
    let calls = 0;
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const error = await withRetries({ attempts: 2, retryable: isRetryable }, async ({ index }) => {
      calls++;
      if (index === 0) {
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      throw reset;
    }).catch(e => e);
    expect(calls).toBe(2);
    expect(error).toBe(reset);

    const denied = new CopyError('DENIED', 'no');
    await expect(withRetries({ attempts: 5, retryable: isRetryable }, async () => {
      calls++;
      throw denied;
    })).rejects.toBe(denied);
    expect(calls).toBe(3);
  });

  test('never retries a thrown error unless told which ones to retry', async () => {
    let calls = 0;
    await expect(withRetries({ attempts: 5 }, async () => {
      calls++;
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    })).rejects.toThrow('ECONNRESET');
    expect(calls).toBe(1);
  });

  test('stops with the signal\'s StoppedError instead of waiting or failing', async () => {
    const controller = new AbortController();
    const pending = withRetries({ attempts: 5, signal: controller.signal }, async () => new Retry('busy', '30'));
    setTimeout(() => controller.abort(new StoppedError('deadline')), 10);
    await expect(pending).rejects.toMatchObject({ name: 'StoppedError', reason: 'deadline' });

    const during = new AbortController();
    const failed = withRetries({ attempts: 5, signal: during.signal }, async () => {
      during.abort(new StoppedError('aborted'));
      throw new CopyError('NETWORK', 'reset by the abort');
    });
    await expect(failed).rejects.toMatchObject({ name: 'StoppedError', reason: 'aborted' });
    await expect(withRetries({ attempts: 5, signal: during.signal }, async () => 'never')).rejects.toBeInstanceOf(StoppedError);
  });
});
