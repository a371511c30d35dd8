import * as crypto from 'crypto';
import { Transform, TransformCallback } from 'stream';
import { CopyError } from './errors';
import { isDigest } from '../image-reference';

export interface VerifyOptions {
  readonly digest: string;
  readonly size: number;
  /** For messages: where the bytes come from. */
  readonly source: string;
  /** Called with each chunk's length as it passes. */
  readonly onBytes?: (bytes: number) => void;
}

/**
 * Passes a blob through while hashing it, and holds back the last chunk until the end: only when
 * size and sha256 match does the final chunk go out. On a mismatch the stream fails instead, so the
 * upload it feeds is cut short of its `Content-Length` (or its last chunk) and the destination
 * never commits corrupt bytes.
 */
export class VerifyingStream extends Transform {
  private readonly hash = crypto.createHash('sha256');
  private readonly expectedHex: string;
  private received = 0;
  private held?: Buffer;

  constructor(private readonly options: VerifyOptions) {
    super({ readableHighWaterMark: 1024 * 1024, writableHighWaterMark: 1024 * 1024 });
    if (!isDigest(options.digest)) {
      throw new CopyError('UNSUPPORTED', `cannot verify ${JSON.stringify(options.digest)}: only sha256 digests are supported`);
    }
    this.expectedHex = options.digest.slice('sha256:'.length);
  }

  /** Bytes seen so far. */
  public get bytes(): number {
    return this.received;
  }

  public _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.options.size) {
      callback(this.mismatch(`more than the ${this.options.size} bytes its descriptor declares`));
      return;
    }
    this.hash.update(chunk);
    this.options.onBytes?.(chunk.length);
    const previous = this.held;
    this.held = chunk;
    if (previous) {
      callback(null, previous);
    } else {
      callback();
    }
  }

  public _flush(callback: TransformCallback): void {
    if (this.received !== this.options.size) {
      callback(this.mismatch(`${this.received} bytes where its descriptor declares ${this.options.size}`));
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.expectedHex) {
      callback(this.mismatch(`content hashing to sha256:${actual}`));
      return;
    }
    if (this.held) {
      this.push(this.held);
      this.held = undefined;
    }
    callback();
  }

  private mismatch(what: string): CopyError {
    return new CopyError('DIGEST_MISMATCH', `blob ${this.options.digest} from ${this.options.source} arrived with ${what}; it was not committed to the destination`, {
      retryable: true,
    });
  }
}
