/**
 * Lines: text arriving in chunks, cut into lines, for the transport and for pipe mode. Chunks are
 * taken as strings: thread-stream has decoded them already, and split2 (which pino-abstract-transport
 * uses) would encode each string to a Buffer and decode it again, which cost the worker about a
 * quarter of its time (bench/README.md).
 */
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';

const NEWLINE = '\n';
const CARRIAGE_RETURN = '\r';
const NEWLINE_CODE = 0x0a;
const CARRIAGE_RETURN_CODE = 0x0d;

/** Receives a line without its end; `cutBytes` (UTF-8) were skipped after its first maxLineLength characters. */
type LineHandler = (line: string, cutBytes: number) => void;

export class LineSplitter {
  private partial = '';
  /** While the held line is past maxLineLength: the bytes of it skipped so far; otherwise -1. */
  private skipped = -1;
  /** The last chunk ended with a `\r` that ended a line: a `\n` opening the next chunk belongs to it. */
  private afterCarriageReturn = false;

  /**
   * `carriageReturnEndsLine`: a lone `\r` ends a line too, at once, as in readline (pipe mode:
   * progress output such as ffmpeg's redraws its line with `\r`). `maxLineLength` (UTF-16 units)
   * bounds what an unfinished line may hold: past it, the rest of the line is skipped up to its end,
   * so an endless line cannot fill memory.
   */
  constructor(
    private readonly onLine: LineHandler,
    private readonly carriageReturnEndsLine = false,
    private readonly maxLineLength = Infinity,
  ) {}

  /** Calls onLine for every line the chunk completes, without its `\n`, `\r\n` (or `\r`). */
  write(chunk: string): void {
    if (this.carriageReturnEndsLine) this.splitAtEitherEnd(chunk);
    else this.splitAtNewlines(chunk);
  }

  /** The last line, when the input did not end with a newline. */
  end(): void {
    if (this.partial !== '' || this.skipped >= 0) this.endLine('');
    this.afterCarriageReturn = false;
  }

  /** The transport's hot path: one indexOf per line, as before pipe mode's `\r` handling existed. */
  private splitAtNewlines(chunk: string): void {
    let start = 0;
    let end: number;
    while ((end = chunk.indexOf(NEWLINE, start)) !== -1) {
      this.endLine(chunk.slice(start, end));
      start = end + 1;
    }
    this.hold(start === 0 ? chunk : chunk.slice(start));
  }

  /**
   * Pipe mode: `\n`, `\r\n` and a lone `\r` each end a line. The next position of each is kept, so a
   * chunk is scanned once whatever the mix.
   */
  private splitAtEitherEnd(chunk: string): void {
    let start = this.afterCarriageReturn && chunk !== '' ? this.pastCarriageReturn(chunk, 0) : 0;
    let newline = chunk.indexOf(NEWLINE, start);
    let carriageReturn = chunk.indexOf(CARRIAGE_RETURN, start);
    while (newline !== -1 || carriageReturn !== -1) {
      const end = carriageReturn === -1 || (newline !== -1 && newline < carriageReturn) ? newline : carriageReturn;
      this.endLine(chunk.slice(start, end));
      start = end === carriageReturn ? this.pastCarriageReturn(chunk, end + 1) : end + 1;
      if (newline !== -1 && newline < start) newline = chunk.indexOf(NEWLINE, start);
      if (carriageReturn !== -1 && carriageReturn < start) carriageReturn = chunk.indexOf(CARRIAGE_RETURN, start);
    }
    this.hold(start === 0 ? chunk : chunk.slice(start));
  }

  /**
   * Where the next line starts, `at` being just after a `\r` that ended a line: past a `\n` that
   * directly follows it, which may only come with the next chunk.
   */
  private pastCarriageReturn(chunk: string, at: number): number {
    this.afterCarriageReturn = at === chunk.length;
    return chunk.charCodeAt(at) === NEWLINE_CODE ? at + 1 : at;
  }

  /** Keeps an unfinished line, or only its first maxLineLength characters once it is longer. */
  private hold(rest: string): void {
    if (this.skipped >= 0) {
      this.skipped += Buffer.byteLength(rest);
      return;
    }
    this.partial += rest;
    if (this.partial.length > this.maxLineLength) {
      const kept = this.partial.slice(0, this.maxLineLength);
      this.skipped = Buffer.byteLength(this.partial) - Buffer.byteLength(kept);
      this.partial = kept;
    }
  }

  private endLine(tail: string): void {
    if (this.skipped >= 0) {
      const cut = this.skipped + Buffer.byteLength(tail);
      this.skipped = -1;
      this.emit(this.partial, cut);
    } else {
      this.emit(this.partial === '' ? tail : this.partial + tail, 0);
    }
    this.partial = '';
  }

  private emit(line: string, cutBytes: number): void {
    // Only in transport mode can a line still end with the `\r` of a `\r\n`.
    const crlf = line.charCodeAt(line.length - 1) === CARRIAGE_RETURN_CODE && !this.carriageReturnEndsLine;
    this.onLine(crlf ? line.slice(0, -1) : line, cutBytes);
  }
}

/**
 * A writable stream of text that hands over lines: strings are split as they are, Buffers are
 * decoded first. `close` runs when the stream is destroyed or has ended (autoDestroy), as with
 * pino-abstract-transport, and must not reject.
 */
export function lineStream(onLine: (line: string) => void, close: () => Promise<void>): Writable {
  const lines = new LineSplitter(onLine);
  const decoder = new StringDecoder('utf8');
  return new Writable({
    decodeStrings: false,
    autoDestroy: true,
    write(chunk: string | Buffer, _encoding, done) {
      lines.write(typeof chunk === 'string' ? chunk : decoder.write(chunk));
      done();
    },
    final(done) {
      lines.write(decoder.end());
      lines.end();
      done();
    },
    destroy(error, done) {
      void close().then(() => done(error));
    },
  });
}
