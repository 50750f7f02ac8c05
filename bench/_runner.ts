import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, platform } from "node:os";
import { relative, resolve } from "node:path";

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

/**
 * Prints results as a Markdown table and returns it; `unit` names what `size` counts per
 * second.
 */
export function report(
  title: string,
  results: BenchResult[],
  unit: "MB/s" | "M/s" = "MB/s",
): string {
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
  const text = lines.join("\n");
  process.stdout.write(text + "\n\n");
  return text;
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

/** The runtime's short name: `deno`, `bun` or `node`. */
export function runtimeId(): string {
  return runtimeName().split(" ")[0];
}

/** The machine, for a report: cores, CPU model, operating system. */
export function machineName(): string {
  const cores = cpus();
  return `${cores.length} cores (${
    cores[0]?.model.trim() ?? "unknown CPU"
  }), ${platform()} ${arch()}`;
}

/**
 * What makes memory-heavy runs swing on this machine, for a report: on a virtual machine
 * that hands freed memory back to its host (virtio-balloon free page reporting, Linux's
 * `page_reporting` module), the first touch of memory the guest reuses costs a page
 * fault on the host, so a run that allocates or fills much (any floor here) takes more or
 * less time depending on what the runs before it freed. Starts with `; `; empty where
 * there is none.
 */
export function memoryNote(): string {
  try {
    const order = Number(
      readFileSync("/sys/module/page_reporting/parameters/page_reporting_order", "utf8"),
    );
    if (!existsSync("/sys/bus/virtio/drivers/virtio_balloon") || !Number.isInteger(order)) {
      return "";
    }
    const mib = 2 ** order * 4 / 1024;
    return `; freed memory goes back to the host (virtio-balloon free page reporting, blocks of ${mib} MiB and up), so runs that allocate much swing with what ran before them`;
  } catch {
    return "";
  }
}

/** The pinned Deno's and Bun's versions, for benches that run both. */
export function runtimeVersions(): string {
  const version = (name: string, args: string[]) => {
    const run = spawnSync(binary(name), args, { encoding: "utf8" });
    return run.status === 0 ? run.stdout.trim().split("\n")[0] : `${name} (not found)`;
  };
  return `${version("deno", ["--version"])}, bun ${version("bun", ["--version"])}, node ${
    version("node", ["--version"])
  }`;
}

/**
 * The command that ran this script, as typed from the repository root:
 * `deno run -A bench/x_bench.ts ARGS` or `bun bench/x_bench.ts ARGS`, after `prefix`
 * (environment settings that matter, e.g. `GGML_QUANTS_LIB=…`).
 */
export function commandLine(prefix = ""): string {
  const root = new URL("..", import.meta.url).pathname;
  const script = relative(root, process.argv[1]);
  const quote = (arg: string) =>
    /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
  const runner = runtimeId() === "deno" ? "deno run -A" : runtimeId();
  return [prefix, runner, script, ...process.argv.slice(2).map(quote)].filter((part) => part)
    .join(" ");
}

/**
 * Writes a bench's Markdown into `file` between `<!-- bench:NAME:begin -->` and
 * `<!-- bench:NAME:end -->` (appended at the end if the markers are not there yet), with
 * the command line, the date and the machine above it, then formats the file with
 * `deno fmt` (as the repository's checks want it) where Deno is at hand.
 */
export function writeMarkdown(
  file: string,
  name: string,
  markdown: string,
  { command = commandLine(), runtimes = runtimeName() }: { command?: string; runtimes?: string } =
    {},
): void {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const date = new Date().toISOString().slice(0, 10);
  const block = [
    begin,
    "",
    `Written by \`${command}\` on ${date}; ${machineName()}${memoryNote()}; ${runtimes}.`,
    "",
    markdown.trim(),
    "",
    end,
  ].join("\n");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const from = text.indexOf(begin);
  const to = text.indexOf(end, from);
  const updated = from >= 0 && to >= 0
    ? text.slice(0, from) + block + text.slice(to + end.length)
    : `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}\n${block}\n`;
  writeFileSync(file, updated);
  const root = new URL("..", import.meta.url).pathname;
  spawnSync(binary("deno"), ["fmt", "--quiet", resolve(file)], { cwd: root, stdio: "ignore" });
  process.stderr.write(`wrote bench:${name} into ${file}\n`);
}
