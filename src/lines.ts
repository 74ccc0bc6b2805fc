/**
 * Lines: text arriving in chunks, cut into lines, for the transport and for pipe mode. Chunks are
 * taken as strings: thread-stream has decoded them already, and split2 (which pino-abstract-transport
 * uses) would encode each string to a Buffer and decode it again, which cost the worker about a
 * quarter of its time (bench/README.md).
 */
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';

const NEWLINE = '\n';
const CARRIAGE_RETURN = 0x0d;

export class LineSplitter {
  private partial = '';

  /**
   * `carriageReturnEndsLine`: a lone `\r` ends a line too, as in readline (pipe mode: progress output
   * such as ffmpeg's redraws its line with `\r`).
   */
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly carriageReturnEndsLine = false,
  ) {}

  /** Calls onLine for every line the chunk completes, without its `\n` or `\r\n`. */
  write(chunk: string): void {
    let end = chunk.indexOf(NEWLINE);
    if (end === -1) {
      this.partial += chunk;
      return;
    }
    this.emit(this.partial + chunk.slice(0, end));
    let start = end + 1;
    while ((end = chunk.indexOf(NEWLINE, start)) !== -1) {
      this.emit(chunk.slice(start, end));
      start = end + 1;
    }
    this.partial = chunk.slice(start);
  }

  /** The last line, when the input did not end with a newline. */
  end(): void {
    if (this.partial !== '') this.emit(this.partial);
    this.partial = '';
  }

  private emit(line: string): void {
    const text = line.charCodeAt(line.length - 1) === CARRIAGE_RETURN ? line.slice(0, -1) : line;
    if (this.carriageReturnEndsLine && text.includes('\r')) for (const part of text.split('\r')) this.onLine(part);
    else this.onLine(text);
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
