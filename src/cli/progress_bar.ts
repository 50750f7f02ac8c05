/**
 * A one-line progress bar for a terminal: bytes done, rate and ETA, redrawn at most a
 * few times a second.
 *
 * @module
 */

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

/** A progress bar writing to `write` (stderr). */
export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #start = performance.now();
  #last = 0;
  #drawn = false;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Redraws the bar if enough time passed (or always when `done === total`). */
  update(done: number, total: number): void {
    const now = performance.now();
    if (done < total && now - this.#last < 200) return;
    this.#last = now;
    const seconds = (now - this.#start) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    const fraction = total > 0 ? done / total : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    this.#write(
      `\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${
        formatBytes(total)
      }  ${formatBytes(rate)}/s  ETA ${formatSeconds(eta)}   `,
    );
    this.#drawn = true;
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.#drawn) this.#write("\n");
    this.#drawn = false;
  }
}
