/**
 * What the copy command prints on the way and at the end.
 */
import { CopyProgressEvent, CopyResult, Redactor } from '../sync';

/** One line on a copy's outcome, for stderr. */
export function summary(r: CopyResult, seconds?: number): string {
  const took = seconds === undefined ? '' : ` in ${formatSeconds(seconds)}`;
  if (r.alreadyPresent) {
    return `already there: ${r.digest}${r.tag ? ` under ${r.tag}` : ''}, nothing copied${took}`;
  }
  const platforms = r.platforms.length > 0 ? ` (${r.platforms.join(', ')})` : '';
  const rate = seconds && seconds > 0 && r.bytesCopied > 0 ? ` at ${formatBytes(r.bytesCopied / seconds)}/s` : '';
  return `copied ${r.digest}${platforms}: ${r.blobsCopied} blobs, ${formatBytes(r.bytesCopied)}${took}${rate}; ${r.blobsSkipped} blobs already there`
    + `${r.blobsMounted ? `, ${r.blobsMounted} mounted` : ''}; ${r.manifestsCopied} manifests written`;
}

/**
 * A line saying the source index's referrers stayed behind (a platform subset, whose index they
 * do not sign), or undefined when none did.
 */
export function indexReferrersLine(r: CopyResult): string | undefined {
  const left = r.referrers?.indexLeftBehind;
  if (!left || left.referrers === 0) {
    return undefined;
  }
  return `referrers: ${left.referrers} of the source index ${left.digest} not carried: they sign the whole index, `
    + `and ${r.digest} holds a platform subset of it (the platform manifests' own referrers were carried)`;
}

/** Bytes in binary units: `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** `42s`, `3m05s`, `1h02m`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) {
    return `${seconds.toFixed(1)}s`;
  }
  const s = Math.round(seconds);
  if (s < 3600) {
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** How often the display writes: often on a terminal (in place), every few seconds to a pipe or file. */
const TTY_INTERVAL_MS = 100;
const PIPE_INTERVAL_MS = 2000;

/**
 * Progress on stderr. On a terminal: one line rewritten in place with the bytes copied of the
 * total, the percentage, the rate and the time left. To a pipe or file: a line every two seconds
 * while the copy runs (also while one large blob holds everything up), and one for every retry,
 * so that logs of long copies stay readable and show that the copy is alive.
 */
export class ProgressDisplay {
  private readonly tty: boolean;
  private readonly started: number;
  private readonly inFlight = new Map<string, number>();
  private bytesDone = 0;
  private blobsDone = 0;
  private blobsSkipped = 0;
  /** Bytes and blobs to copy, once the plan is known. */
  private total?: number;
  private blobsPlanned?: number;
  private lastLine = 0;
  private drawn = false;
  private timer?: NodeJS.Timeout;

  /**
   * @param redactor every line passes it before the display adds its own cursor controls
   * @param now the clock (tests pass their own)
   */
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly redactor: Redactor = new Redactor(),
    private readonly now: () => number = Date.now,
  ) {
    this.tty = (out as { isTTY?: boolean }).isTTY === true;
    this.started = now();
  }

  /** Seconds since the display was made. */
  public get elapsedSeconds(): number {
    return (this.now() - this.started) / 1000;
  }

  public event(e: CopyProgressEvent): void {
    switch (e.kind) {
      case 'plan':
        this.total = e.total ?? 0;
        this.blobsPlanned = e.blobs;
        if (!this.tty && !this.timer && this.total > 0) {
          // A line every few seconds even when no event comes (one large blob on a slow link).
          this.timer = setInterval(() => this.tick(true), PIPE_INTERVAL_MS);
          this.timer.unref();
        }
        break;
      case 'blob-start':
        this.inFlight.set(e.digest!, 0);
        break;
      case 'blob-progress':
        this.inFlight.set(e.digest!, e.bytes ?? 0);
        break;
      case 'blob-done':
        this.inFlight.delete(e.digest!);
        this.bytesDone += e.bytes ?? 0;
        this.blobsDone++;
        break;
      case 'blob-skipped':
        this.blobsSkipped++;
        break;
      case 'retry':
        this.line(`retry: ${e.message ?? ''}`, true);
        return;
      case 'tag':
        this.line(`tag: ${e.message ?? ''}`, true);
        return;
      default:
        break;
    }
    this.tick(false);
  }

  /** Clears the terminal line and stops the timer; call before the summary or an error. */
  public finish(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.tty && this.drawn) {
      this.out.write('\r\x1b[K');
      this.drawn = false;
    }
  }

  /** The progress line as it stands. */
  public status(): string {
    let bytes = this.bytesDone;
    this.inFlight.forEach(b => {
      bytes += b;
    });
    const seconds = Math.max(this.elapsedSeconds, 0.001);
    const rate = bytes / seconds;
    const blobs = this.blobsPlanned !== undefined ? `${this.blobsDone}/${this.blobsPlanned} blobs` : `${this.blobsDone} blobs`;
    const skipped = this.blobsSkipped > 0 ? `, ${this.blobsSkipped} already there` : '';
    const inFlight = this.inFlight.size > 0 ? `, ${this.inFlight.size} in flight` : '';
    if (this.total === undefined || this.total === 0) {
      return `${blobs} copied${skipped}${inFlight}; ${formatBytes(bytes)} at ${formatBytes(rate)}/s`;
    }
    const fraction = Math.min(bytes / this.total, 1);
    const left = rate > 0 ? (this.total - bytes) / rate : undefined;
    const eta = left === undefined ? 'ETA --' : `ETA ${formatSeconds(Math.max(left, 0))}`;
    return `${bar(fraction)} ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(bytes)} / ${formatBytes(this.total)}`
      + ` at ${formatBytes(rate)}/s, ${eta}; ${blobs}${skipped}${inFlight}`;
  }

  private tick(fromTimer: boolean): void {
    const now = this.now();
    const interval = this.tty ? TTY_INTERVAL_MS : PIPE_INTERVAL_MS;
    if (!fromTimer && now - this.lastLine < interval) {
      return;
    }
    if (fromTimer && now - this.lastLine < interval / 2) {
      return;
    }
    this.lastLine = now;
    this.line(this.status(), false);
  }

  private line(raw: string, always: boolean): void {
    const text = this.redactor.text(raw);
    if (this.tty) {
      const columns = (this.out as { columns?: number }).columns ?? 200;
      this.out.write(`\r\x1b[K${text.slice(0, Math.max(columns - 1, 20))}`);
      this.drawn = true;
      if (always) {
        this.out.write('\n');
        this.drawn = false;
      }
    } else {
      this.out.write(`${text}\n`);
    }
  }
}

/** `[=========>          ]` for a fraction from 0 to 1. */
function bar(fraction: number): string {
  const width = 20;
  const full = Math.floor(fraction * width);
  return `[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(width - full - 1, 0))}]`;
}
