/**
 * Progress on stderr. On a TTY, one line redrawn in place (`[3/12] routed call RTT · raw relay: round 2/5`);
 * elsewhere (CI logs, the test suite), one plain line per finished scenario. Updates come only between
 * rounds, and redraws are throttled, so the display never costs anything inside a timed loop.
 */
export class Progress {
  private readonly tty: boolean;
  private header = '';
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  /** A scenario starts. */
  begin(index: number, total: number, title: string): void {
    this.header = `[${index}/${total}] ${title}`;
    this.draw(this.header, true);
  }

  /** What the current scenario is doing now. */
  step(text: string): void {
    this.draw(`${this.header} · ${text}`, false);
  }

  /** A scenario ended; on a non-TTY this is the only line written for it. */
  end(status: string, seconds: number): void {
    const line = `${this.header}: ${status} (${seconds.toFixed(1)} s)`;
    if (this.tty) {
      this.clear();
      this.stream.write(`${line}\n`);
    } else {
      this.stream.write(`bench ${line}\n`);
    }
  }

  /** Removes the in-place line (before the table is printed). */
  clear(): void {
    if (this.tty && this.drawn) {
      this.stream.write('\r\x1b[2K');
      this.drawn = false;
    }
  }

  private draw(text: string, force: boolean): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = Math.max(20, (this.stream.columns || 100) - 1); // 0 when the terminal does not say
    this.stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    this.drawn = true;
  }
}
