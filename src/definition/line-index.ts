/**
 * Maps string offsets to 1-based line and column numbers. Columns count UTF-16 code units (as editors
 * such as VS Code do), and `\r\n`, `\n` and a lone `\r` all end a line, matching XML's line-end rules.
 */
export class LineIndex {
  /** Offset of the first character of each line; lineStarts[0] is always 0. */
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.lineStarts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.lineStarts.push(i + 1);
      }
    }
  }

  /** 1-based line and column of the character at `offset` (clamped into the text). */
  locate(offset: number): { line: number; column: number } {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    // Binary search for the last line starting at or before offset.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid]) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: Math.max(0, offset - (starts[lo])) + 1 };
  }
}
