/**
 * What the copy command prints on the way and at the end.
 */
import { CopyProgressEvent, CopyResult, Redactor } from '../sync';

/** One line on a copy's outcome, for stderr. */
export function summary(r: CopyResult): string {
  if (r.alreadyPresent) {
    return `already there: ${r.digest}${r.tag ? ` under ${r.tag}` : ''}, nothing copied`;
  }
  const platforms = r.platforms.length > 0 ? ` (${r.platforms.join(', ')})` : '';
  return `copied ${r.digest}${platforms}: ${r.blobsCopied} blobs, ${formatBytes(r.bytesCopied)}; ${r.blobsSkipped} blobs already there`
    + `${r.blobsMounted ? `, ${r.blobsMounted} mounted` : ''}; ${r.manifestsCopied} manifests written`;
}

/** Bytes in binary units: `1.5 MiB`. */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Progress on stderr: one line rewritten in place on a terminal, a line every few seconds (and
 * for every retry) otherwise, so logs of long copies stay readable.
 */
export class ProgressDisplay {
  private readonly tty: boolean;
  private readonly started = Date.now();
  private readonly inFlight = new Map<string, number>();
  private bytesDone = 0;
  private blobsDone = 0;
  private blobsSkipped = 0;
  private lastLine = 0;
  private drawn = false;

  /** @param redactor every line passes it before the display adds its own cursor controls */
  constructor(private readonly out: NodeJS.WritableStream, private readonly redactor: Redactor = new Redactor()) {
    this.tty = (out as { isTTY?: boolean }).isTTY === true;
  }

  public event(e: CopyProgressEvent): void {
    switch (e.kind) {
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
    this.tick();
  }

  public finish(): void {
    if (this.tty && this.drawn) {
      this.out.write('\r\x1b[K');
      this.drawn = false;
    }
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastLine < (this.tty ? 100 : 5000)) {
      return;
    }
    this.lastLine = now;
    let bytes = this.bytesDone;
    this.inFlight.forEach(b => {
      bytes += b;
    });
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    this.line(`${this.blobsDone} blobs copied, ${this.blobsSkipped} skipped, ${this.inFlight.size} in flight; `
      + `${formatBytes(bytes)} at ${formatBytes(bytes / seconds)}/s`, false);
  }

  private line(raw: string, always: boolean): void {
    const text = this.redactor.text(raw);
    if (this.tty) {
      this.out.write(`\r\x1b[K${text.slice(0, 200)}`);
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
