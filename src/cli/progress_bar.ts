/**
 * A one-line progress bar for a terminal: bytes done, rate and ETA, redrawn at most a
 * few times a second.
 *
 * @module
 */
import { PLATFORM } from "../runtime/current.ts";

/** Formats a byte count with a binary-free decimal unit (kB, MB, GB). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${
    units[unit]
  }`;
}

/** Formats seconds as `1m05s` or `4.2s`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds - minutes * 60)).padStart(2, "0")}s`;
}

/** Seconds of history the rate is averaged over. */
const RATE_WINDOW_SECONDS = 5;

/**
 * A progress bar writing to `write` (stderr): fits the terminal's width (redrawn with a
 * line clear, so it never wraps or scrolls), shows the rate over the last few seconds and
 * an ETA only once there is a rate to trust, and says "finishing" while the output is
 * flushed and renamed.
 */
export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #columns: () => number;
  readonly #start = performance.now();
  /** Recent (time, bytes) samples for the rate. */
  #samples: [number, number][] = [];
  #last = 0;
  #drawn = false;

  /**
   * @param write Where the bar goes.
   * @param columns The terminal's width now (default: stderr's, else 80).
   */
  constructor(write: (text: string) => void, columns?: () => number) {
    this.#write = write;
    this.#columns = columns ?? (() => PLATFORM.process?.stderrColumns() ?? 80);
  }

  #draw(text: string): void {
    const width = Math.max(20, this.#columns() - 1);
    this.#write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
    this.#drawn = true;
  }

  /** Redraws the bar if enough time passed (or always when `done === total`). */
  update(done: number, total: number): void {
    const now = performance.now();
    if (done < total && now - this.#last < 200) return;
    this.#last = now;
    this.#samples.push([now, done]);
    while (this.#samples.length > 2 && now - this.#samples[0][0] > RATE_WINDOW_SECONDS * 1000) {
      this.#samples.shift();
    }
    const [t0, d0] = this.#samples[0];
    const seconds = (now - t0) / 1000;
    const rate = seconds > 0.5 ? (done - d0) / seconds : 0;
    const elapsed = (now - this.#start) / 1000;
    const eta = rate > 0 && elapsed >= 1 ? formatSeconds((total - done) / rate) : "…";
    const fraction = total > 0 ? done / total : 1;
    const percent = `${(fraction * 100).toFixed(0).padStart(3)}%`;
    if (done >= total) {
      this.#draw(`${percent} ${formatBytes(done)} written; finishing (flushing to disk)…`);
      return;
    }
    const facts = `${percent} ${formatBytes(done)} / ${formatBytes(total)}  ${
      rate > 0 ? formatBytes(rate) + "/s" : "…"
    }  ETA ${eta}`;
    const barWidth = Math.min(30, this.#columns() - facts.length - 4);
    if (barWidth < 5) return this.#draw(facts);
    const filled = Math.round(fraction * barWidth);
    this.#draw(`[${"#".repeat(filled)}${".".repeat(barWidth - filled)}] ${facts}`);
  }

  /** Clears the bar's line. */
  finish(): void {
    if (this.#drawn) this.#write("\r\x1b[2K");
    this.#drawn = false;
  }
}
