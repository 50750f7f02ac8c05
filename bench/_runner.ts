import { existsSync, readFileSync } from "node:fs";

/**
 * A minimal benchmark runner for Deno and Bun alike: warm up, time a fixed number of
 * runs, report the median and the throughput over a byte (or item) count.
 */

/** One measured case. */
export interface BenchResult {
  name: string;
  /** Median time of one run in milliseconds. */
  medianMs: number;
  /** Fastest run in milliseconds. */
  minMs: number;
  /** Bytes (or items) one run processes, for the throughput column. */
  size: number;
}

/** The runtime's name and version, for the report. */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  return `node ${process.version}`;
}

/** Times `fn` `runs` times after `warmup` untimed runs. */
export async function measure(
  name: string,
  size: number,
  fn: () => unknown,
  { runs = 15, warmup = 3 }: { runs?: number; warmup?: number } = {},
): Promise<BenchResult> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { name, medianMs: times[Math.floor(times.length / 2)], minMs: times[0], size };
}

/** Prints results as a Markdown table; `unit` names what `size` counts per second. */
export function report(title: string, results: BenchResult[], unit: "MB/s" | "M/s" = "MB/s"): void {
  const lines = [
    `### ${title} (${runtimeName()})`,
    "",
    `| case | median ms | min ms | ${unit} |`,
    "| --- | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    const rate = r.size / 1e6 / (r.medianMs / 1000);
    lines.push(
      `| ${r.name} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)} | ${rate.toFixed(0)} |`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n\n");
}

/** The reference fixtures directory (`$GGUF_FIXTURES` or `../shared/fixtures`). */
export function fixturesDir(): string {
  const fromEnv = process.env.GGUF_FIXTURES;
  return fromEnv ?? new URL("../../shared/fixtures", import.meta.url).pathname;
}

/** The project's pinned binary from node_modules, or the one on PATH. */
export function binary(name: string): string {
  const local = new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
  return existsSync(local) ? local : name;
}

/** How to run `script` (relative to the repository root) under each runtime. */
export function runtimeCommands(script: string): [string, string[]][] {
  return [
    ["deno", [binary("deno"), "run", "-A", script]],
    ["bun", [binary("bun"), script]],
  ];
}

/** A field of this process's /proc/self/status in bytes (Linux), e.g. VmRSS or VmHWM. */
export function procStatus(field: string): number {
  const match = readFileSync("/proc/self/status", "utf8").match(
    new RegExp(`^${field}:\\s+(\\d+) kB`, "m"),
  );
  return Number(match![1]) * 1024;
}
