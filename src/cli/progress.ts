/**
 * A terminal progress reporter for long jobs (batch listing, training): items done of a total,
 * items per second, ETA, and free-form extra fields (e.g. `failed=3`, `loss=0.412`).
 *
 * On a TTY it redraws one line in place (at most `redrawMs` apart, so a fast loop does not spend
 * its time writing to the terminal). Elsewhere (CI logs, `kubectl logs`, Slurm output files)
 * carriage returns would pile up into one huge line, so it prints a complete plain line every
 * `plainEveryMs` instead. The rate is measured over a recent window, not since the start, so the
 * ETA follows a job whose speed changes (a slow warm-up, a resume that skips quickly).
 */
export interface ProgressOptions {
  /** Total items, or null when unknown (then no percentage or ETA). */
  total: number | null;
  /** Shown at the start of each line, e.g. "batch". */
  label: string;
  /** Where to draw; defaults to stderr so stdout stays clean for data. */
  stream?: ProgressStream;
  /** Minimum time between TTY redraws. */
  redrawMs?: number;
  /** Time between plain lines when the stream is not a TTY. */
  plainEveryMs?: number;
  /** Length of the window the rate is measured over. */
  rateWindowMs?: number;
  /** Clock in milliseconds; tests pass a fake one. */
  now?: () => number;
}

/** The part of a Writable the reporter uses (process.stderr satisfies it). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressFields = Record<string, string | number>;

export class Progress {
  readonly total: number | null;
  private done = 0;
  private fields: ProgressFields = {};
  private readonly label: string;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly redrawMs: number;
  private readonly plainEveryMs: number;
  private readonly rateWindowMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = -Infinity;
  /** (time, done) samples inside the rate window, oldest first. */
  private samples: { t: number; done: number }[] = [];
  private finished = false;

  constructor(options: ProgressOptions) {
    this.total = options.total;
    this.label = options.label;
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.redrawMs = options.redrawMs ?? 100;
    this.plainEveryMs = options.plainEveryMs ?? 10_000;
    this.rateWindowMs = options.rateWindowMs ?? 20_000;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.samples.push({ t: this.started, done: 0 });
    // A plain log gets a first line at once, so a job that hangs before its first item is visible.
    if (!this.tty) this.draw(this.started);
  }

  /** Adds `n` finished items and merges `fields` into the extra fields shown. */
  tick(n = 1, fields?: ProgressFields): void {
    this.done += n;
    if (fields) Object.assign(this.fields, fields);
    const t = this.now();
    this.samples.push({ t, done: this.done });
    while (this.samples.length > 2 && t - this.samples[1].t >= this.rateWindowMs) this.samples.shift();
    if (t - this.lastDraw >= (this.tty ? this.redrawMs : this.plainEveryMs)) this.draw(t);
  }

  /** Updates extra fields without counting items (e.g. a phase name). */
  set(fields: ProgressFields): void {
    Object.assign(this.fields, fields);
  }

  /** Items per second over the recent window (0 before anything is done). */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.t - first.t) / 1000;
    return seconds > 0 ? (last.done - first.done) / seconds : 0;
  }

  /** Seconds left at the current rate, or null when unknown. */
  eta(): number | null {
    const rate = this.rate();
    if (this.total === null || rate <= 0) return null;
    return Math.max(0, this.total - this.done) / rate;
  }

  /** The status line as it would be drawn now. */
  line(): string {
    const parts = [this.label];
    if (this.total !== null) {
      const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
      parts.push(`${this.done}/${this.total} (${pct.toFixed(1)}%)`);
    } else {
      parts.push(`${this.done}`);
    }
    parts.push(`${formatRate(this.rate())}/s`);
    const eta = this.eta();
    if (this.total !== null) parts.push(`ETA ${eta === null ? '?' : formatDuration(eta)}`);
    for (const [k, v] of Object.entries(this.fields)) parts.push(`${k}=${v}`);
    return parts.join('  ');
  }

  /** Draws the final state and ends the TTY line; later ticks are ignored by the display. */
  finish(): void {
    if (this.finished) return;
    const t = this.now();
    const elapsed = formatDuration((t - this.started) / 1000);
    const text = `${this.line()}  elapsed ${elapsed}`;
    this.stream.write(this.tty ? `\r${this.fit(text)}\x1b[K\n` : `${text}\n`);
    this.finished = true;
  }

  private draw(t: number): void {
    if (this.finished) return;
    this.lastDraw = t;
    const text = this.line();
    this.stream.write(this.tty ? `\r${this.fit(text)}\x1b[K` : `${text}\n`);
  }

  /** Cuts a TTY line to the terminal width so it never wraps (a wrapped line cannot be redrawn). */
  private fit(text: string): string {
    const width = this.stream.columns;
    return width && text.length >= width ? text.slice(0, width - 1) : text;
  }
}

/** 3 significant digits for small rates, whole numbers for large ones. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return perSecond.toFixed(0);
  if (perSecond >= 10) return perSecond.toFixed(1);
  return perSecond.toFixed(2);
}

/** "42s", "3m07s", "2h05m". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
