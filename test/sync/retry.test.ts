import { CopyError, StoppedError } from '../../src/sync/errors';
import {
  Retry, RetryNotice, isRetryable, isRetryableNetworkError, isThrottlingError, parseRetryAfterMs, quotaDelayMs, retryDelayMs, sleep, withRetries,
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
    expect(seen).toEqual([
      { index: 0, last: false, waitsForQuota: false },
      { index: 1, last: false, waitsForQuota: false },
      { index: 2, last: true, waitsForQuota: false },
    ]);
    expect(notices).toEqual([
      { reason: 'busy 0', attempt: 2, attempts: 3, waitingForQuota: false }, { reason: 'busy 1', attempt: 3, attempts: 3, waitingForQuota: false },
    ]);
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

describe('withRetries: waiting for quota', () => {
  test('a throttled attempt counts against the attempts when there is no deadline to wait until', async () => {
    let calls = 0;
    const error = await withRetries({ attempts: 3 }, async ({ last }) => {
      calls++;
      return last ? 'never' : new Retry('HTTP 429', '0', true);
    });
    expect(error).toBe('never');
    expect(calls).toBe(3);
  });

  test('retries a throttled attempt beyond the attempts until the deadline, and each wait honours Retry-After', async () => {
    const seen: { last: boolean; waitsForQuota: boolean }[] = [];
    const notices: RetryNotice[] = [];
    const started = Date.now();
    const options = { attempts: 2, waitForQuotaUntil: Date.now() + 30_000, onRetry: (n: RetryNotice) => notices.push(n) };
    const value = await withRetries(options, async ({ index, last, waitsForQuota }) => {
      seen.push({ last, waitsForQuota });
      return index < 4 ? new Retry(`HTTP 429 (${index})`, index === 0 ? '1' : undefined, true) : 'admitted';
    });
    expect(value).toBe('admitted');
    // Five attempts, four throttled: none of them used up one of the two attempts.
    expect(seen).toHaveLength(5);
    expect(seen.every(s => !s.last && s.waitsForQuota)).toBe(true);
    expect(notices.map(n => n.waitingForQuota)).toEqual([true, true, true, true]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  test('other failures keep their attempts while throttled ones wait', async () => {
    const outcomes = ['429', '503', '429', '429', '503'];
    const seen: boolean[] = [];
    let calls = 0;
    const result = await withRetries({ attempts: 2, waitForQuotaUntil: Date.now() + 30_000 }, async ({ last }) => {
      seen.push(last);
      const outcome = outcomes[calls++];
      if (outcome === '429') return new Retry('HTTP 429', '0', true);
      return last ? `gave up on ${outcome}` : new Retry(`HTTP ${outcome}`, '0');
    });
    // The second 503 is the second ordinary failure: the last attempt, however many 429s came between.
    expect(result).toBe('gave up on 503');
    expect(seen).toEqual([false, false, true, true, true]);
  });

  test('retries thrown throttling errors its test accepts, and stops at the deadline with a StoppedError', async () => {
    let calls = 0;
    const started = Date.now();
    const throttling = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const error = await withRetries({ attempts: 1, waitForQuotaUntil: Date.now() + 1500, throttled: isThrottlingError }, async () => {
      calls++;
      throw throttling;
    }).catch(e => e);
    expect(error).toBeInstanceOf(StoppedError);
    expect(error.reason).toBe('deadline');
    expect(calls).toBeGreaterThan(1);
    // It waited until the deadline, not beyond it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('stops at the deadline at once when the server asks to wait past it', async () => {
    const started = Date.now();
    let calls = 0;
    const error = await withRetries({ attempts: 4, waitForQuotaUntil: Date.now() + 300 }, async () => {
      calls++;
      return new Retry('HTTP 429', '60', true);
    }).catch(e => e);
    expect(error).toBeInstanceOf(StoppedError);
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('a thrown error that is not throttling fails as before, deadline or not', async () => {
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDenied' });
    let calls = 0;
    await expect(withRetries({ attempts: 1, waitForQuotaUntil: Date.now() + 30_000, throttled: isThrottlingError }, async () => {
      calls++;
      throw denied;
    })).rejects.toBe(denied);
    expect(calls).toBe(1);
  });

  test('waits at least the server\'s Retry-After plus full jitter over a ceiling capped at 8 s', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    for (let throttles = 0; throttles < 10; throttles++) {
      const ceiling = Math.min(200 * 2 ** throttles, 8000);
      const delays = Array.from({ length: 50 }, () => quotaDelayMs(throttles, '2', now));
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(2000);
      expect(Math.max(...delays)).toBeLessThanOrEqual(2000 + ceiling);
      const bare = Array.from({ length: 50 }, () => quotaDelayMs(throttles, undefined, now));
      expect(Math.min(...bare)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...bare)).toBeLessThanOrEqual(ceiling);
    }
    // Full jitter: a spread from near zero, not half the ceiling and up.
    expect(Math.min(...Array.from({ length: 200 }, () => quotaDelayMs(6)))).toBeLessThan(2000);
    expect(quotaDelayMs(0, '3600', now)).toBeLessThanOrEqual(60_200);
  });

  test('knows throttling: a registry\'s 429 and the AWS SDK\'s throttling errors', () => {
    expect(isThrottlingError(new CopyError('REGISTRY', 'x', { status: 429, retryable: true }))).toBe(true);
    expect(isThrottlingError(new CopyError('REGISTRY', 'x', { status: 503, retryable: true }))).toBe(false);
    expect(isThrottlingError(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))).toBe(true);
    expect(isThrottlingError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isThrottlingError(Object.assign(new Error('x'), { name: 'Whatever', $retryable: { throttling: true } }))).toBe(true);
    expect(isThrottlingError(Object.assign(new Error('x'), { name: 'ServiceUnavailable', $retryable: {} }))).toBe(false);
    expect(isThrottlingError(Object.assign(new Error('denied'), { name: 'AccessDenied' }))).toBe(false);
    expect(isThrottlingError(undefined)).toBe(false);
  });
});
