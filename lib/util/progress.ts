// Progress output: a live line on a TTY (epoch, batch, loss, ETA), plain lines otherwise.
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export interface ProgressSink {
  /** a transient status (overwritten on a TTY, dropped otherwise) */
  status(text: string): void;
  /** a permanent line */
  line(text: string): void;
}

export function consoleProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressSink {
  const tty = Boolean(stream.isTTY);
  let lastStatus = 0;
  let shown = false;
  return {
    status(text: string) {
      if (quiet || !tty) return;
      const now = Date.now();
      if (now - lastStatus < 100) return;
      lastStatus = now;
      const width = stream.columns ?? 100;
      stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
      shown = true;
    },
    line(text: string) {
      if (quiet) return;
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
      stream.write(`${text}\n`);
    },
  };
}

/** ETA from work done so far: elapsed / done * remaining. */
export function eta(elapsedSeconds: number, done: number, total: number): number {
  if (done <= 0) return Number.NaN;
  return (elapsedSeconds / done) * (total - done);
}
