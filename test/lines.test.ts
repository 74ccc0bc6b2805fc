// The line splitter shared by the transport worker and pipe mode (issue 14, A1 and A2): what a
// caller receives for each chunk it writes.
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/ingest/lines.js';

/** A splitter and the lines it handed over so far, with how many bytes were cut from each. */
function splitter(carriageReturnEndsLine: boolean, maxLineLength?: number) {
  const lines: string[] = [];
  const cut: number[] = [];
  const lineSplitter = new LineSplitter(
    (line, cutBytes) => {
      lines.push(line);
      cut.push(cutBytes);
    },
    carriageReturnEndsLine,
    maxLineLength,
  );
  return { lineSplitter, lines, cut };
}

describe('LineSplitter', () => {
  it('transport mode: lines end at \\n, a \\r\\n is one end (also across chunks), a lone \\r stays in the line', () => {
    const { lineSplitter, lines } = splitter(false);
    lineSplitter.write('a\r\nb\r');
    lineSplitter.write('\nc\rd\n');
    lineSplitter.write('no newline');
    expect(lines).toEqual(['a', 'b', 'c\rd']);
    lineSplitter.end();
    expect(lines).toEqual(['a', 'b', 'c\rd', 'no newline']);
  });

  it('issue 14 A1: pipe mode hands over a line at its \\r at once, without waiting for a \\n', () => {
    const { lineSplitter, lines } = splitter(true);
    lineSplitter.write('frame=1\rframe=2\r');
    expect(lines).toEqual(['frame=1', 'frame=2']);
    lineSplitter.write('frame=3\r');
    expect(lines).toEqual(['frame=1', 'frame=2', 'frame=3']);
  });

  it('issue 14 A1: pipe mode counts \\r\\n as one line end, also when a chunk ends between them', () => {
    const { lineSplitter, lines } = splitter(true);
    lineSplitter.write('one\r');
    expect(lines).toEqual(['one']);
    lineSplitter.write('');
    lineSplitter.write('\ntwo\r\nthree\n\nfour\r\rfive');
    lineSplitter.end();
    expect(lines).toEqual(['one', 'two', 'three', '', 'four', '', 'five']);
  });

  it('issue 14 A2: a line longer than the limit is cut once it passes it, the rest skipped up to its end', () => {
    const { lineSplitter, lines, cut } = splitter(true, 10);
    lineSplitter.write('0123456');
    lineSplitter.write('789abcdef');
    lineSplitter.write('é'.repeat(1000)); // two bytes each in UTF-8
    expect(lines).toEqual([]);
    lineSplitter.write('tail\rnext\n');
    expect(lines).toEqual(['0123456789', 'next']);
    expect(cut).toEqual(['abcdef'.length + 2 * 1000 + 'tail'.length, 0]);
  });

  it('issue 14 A2: a cut line with no end at all is handed over at the end of the input', () => {
    const { lineSplitter, lines, cut } = splitter(false, 4);
    lineSplitter.write('abcdefgh');
    lineSplitter.write('ijkl');
    lineSplitter.end();
    expect(lines).toEqual(['abcd']);
    expect(cut).toEqual([8]);
  });

  it('issue 14 A2: a long line that arrives whole with its newline is handed over whole (memory is bounded by the chunk)', () => {
    const { lineSplitter, lines, cut } = splitter(false, 4);
    lineSplitter.write('abcdefgh\nij');
    lineSplitter.write('\n');
    expect(lines).toEqual(['abcdefgh', 'ij']);
    expect(cut).toEqual([0, 0]);
  });
});
