import { StoppedError } from './errors';

/**
 * Runs `fn` over items in order, each taking `weight(item)` of `capacity` while it runs (a weight
 * above the capacity takes all of it). The first failure stops new starts and is thrown once all
 * in flight settle; a real failure wins over a stop.
 */
export async function runWeighted<T>(items: T[], capacity: number, weight: (item: T) => number, fn: (item: T) => Promise<void>): Promise<void> {
  const state: { inUse: number; failure?: { error: unknown } } = { inUse: 0 };
  const running = new Set<Promise<void>>();
  for (const item of items) {
    const w = Math.max(1, Math.min(weight(item), capacity));
    while (!state.failure && state.inUse + w > capacity) {
      await Promise.race(running);
    }
    if (state.failure) {
      break;
    }
    state.inUse += w;
    const task: Promise<void> = fn(item)
      .catch(error => {
        const current = state.failure as { error: unknown } | undefined;
        if (!current || (current.error instanceof StoppedError && !(error instanceof StoppedError))) {
          state.failure = { error };
        }
      })
      .finally(() => {
        state.inUse -= w;
        running.delete(task);
      });
    running.add(task);
  }
  await Promise.all(running);
  if (state.failure) {
    throw state.failure.error;
  }
}

/** Runs `fn` over items with at most `limit` in flight; the first failure stops new starts and is thrown once all in flight settle. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  await runWeighted(items.map((item, index) => ({ item, index })), limit, () => 1, async ({ item, index }) => {
    results[index] = await fn(item);
  });
  return results;
}
