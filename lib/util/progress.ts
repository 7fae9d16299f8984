// Progress output: a live line on a TTY (epoch, batch, loss, ETA), plain lines otherwise;
// and, for scripts, events (a finished epoch, a finished study unit, the result) that
// `--json` writes to stdout as one JSON object per line.
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

/** A finished epoch of a run (the numbers of its metrics.jsonl line); `unit` in a study. */
export interface EpochEvent {
  event: 'epoch';
  model: string;
  unit?: string;
  epoch: number;
  train_loss: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
  best: boolean;
}

/** A study unit that has finished, was finished before (reused), or failed. */
export interface UnitEvent {
  event: 'unit';
  unit: string;
  status: 'finished' | 'reused' | 'failed';
  /** its run folder, relative to the study folder */
  dir: string;
  /** seconds this process spent on it */
  seconds: number;
  /** why it failed */
  error?: string;
}

/** The command's result: the last event. */
export interface ResultEvent {
  event: 'result';
  [field: string]: unknown;
}

export type ProgressEvent = EpochEvent | UnitEvent | ResultEvent;

export interface ProgressSink {
  /** a transient status (overwritten on a TTY, dropped otherwise) */
  status(text: string): void;
  /** a permanent line */
  line(text: string): void;
  /** a machine-readable event; sinks without it drop events */
  event?(e: ProgressEvent): void;
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

/** `sink`'s text, and its events as JSON lines on `out` (stdout: `--json`). */
export function jsonEvents(sink: ProgressSink, out: NodeJS.WritableStream = process.stdout): ProgressSink {
  return {
    status: (text) => sink.status(text),
    line: (text) => sink.line(text),
    event: (e) => {
      out.write(`${JSON.stringify(e)}\n`);
    },
  };
}

/** The progress of a command's `--quiet` and `--json`: text on stderr unless quiet, events on stdout with json. */
export function commandProgress(o: { quiet?: boolean; json?: boolean }): ProgressSink {
  const text = consoleProgress(process.stderr, Boolean(o.quiet));
  return o.json ? jsonEvents(text) : text;
}

/** ETA from work done so far: elapsed / done * remaining. */
export function eta(elapsedSeconds: number, done: number, total: number): number {
  if (done <= 0) return Number.NaN;
  return (elapsedSeconds / done) * (total - done);
}
