import { setMaxListeners } from 'events';
import { StoppedError, stoppedFrom } from './errors';

const MAX_TIMER_MS = 2_147_000_000;

/**
 * When a copy stops: at its deadline or when the caller aborts, whichever comes first, as one
 * signal that every request, retry wait and transfer of the copy listens on.
 */
export class StopSignal {
  private readonly controller = new AbortController();
  private readonly timer?: NodeJS.Timeout;
  private readonly onCallerAbort?: () => void;

  /**
   * @param deadline epoch ms
   * @param caller the caller's signal
   */
  constructor(private readonly deadline: number | undefined, private readonly caller: AbortSignal | undefined) {
    // Every in-flight request listens on the stop signal.
    setMaxListeners(0, this.controller.signal);
    if (caller) {
      if (caller.aborted) {
        this.controller.abort(new StoppedError('aborted'));
      } else {
        this.onCallerAbort = () => this.controller.abort(new StoppedError('aborted'));
        caller.addEventListener('abort', this.onCallerAbort, { once: true });
      }
    }
    if (deadline !== undefined) {
      const wait = deadline - Date.now();
      if (wait <= 0) {
        this.controller.abort(new StoppedError('deadline'));
      } else if (wait < MAX_TIMER_MS) {
        this.timer = setTimeout(() => this.controller.abort(new StoppedError('deadline')), wait);
        this.timer.unref?.();
      }
    }
  }

  /** Aborted with a StoppedError reason once the copy must stop. */
  public get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the StoppedError when the copy must stop (the clock is read too: a timer may fire late). */
  public check(): void {
    if (this.deadline !== undefined && Date.now() >= this.deadline && !this.controller.signal.aborted) {
      this.controller.abort(new StoppedError('deadline'));
    }
    if (this.controller.signal.aborted) {
      throw stoppedFrom(this.controller.signal);
    }
  }

  /** Stops the timer and lets go of the caller's signal. */
  public close(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    if (this.onCallerAbort) {
      this.caller?.removeEventListener('abort', this.onCallerAbort);
    }
  }
}
