/**
 * The speed suite: every way of converting, on Deno and Bun, with 1, 2 and all threads,
 * each figure beside its floor measured in the same run (interleaved, median of --runs):
 *
 * - file → file (`IN -o OUT`) vs `dd conv=fdatasync` writing as many bytes: into a new file
 *   (both outputs removed before each run), and replacing the previous output (`--force`; dd
 *   truncating its own);
 * - pipe → pipe (`- -o - < IN | cat > OUT`) vs `cat < OUT | cat > COPY`;
 * - in memory (`convertGguf()`) vs allocating and filling the final bytes;
 * - requantizing to Q8_0 file → file vs F32 output of the same model, and both vs llama.cpp's
 *   `llama_model_quantize` (`llama-quantize --allow-requantize`, every core) where its
 *   prebuilt library can be had (see _llama_quantize.ts; Linux x64).
 *
 * Threads beyond the machine's cores are not run: the table reports what it finds, so the
 * same command shows the scaling on a 16-core machine.
 *
 *   deno run -A bench/speed_bench.ts [--size-mb 330] [--runs 3] [--threads 1,2,all,default]
 *     [--markdown docs/performance.md]
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { binary, runtimeVersions, writeMarkdown } from "./_runner.ts";
import { ensureSyntheticModel } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "size-mb": { type: "string", default: "330" },
    runs: { type: "string", default: "3" },
    threads: { type: "string", default: "1,2,all,default" },
    markdown: { type: "string" },
  },
});
const cores = navigator.hardwareConcurrency;
/** Thread counts to run ("default": no --threads flag, whatever the CLI picks). */
const threadCounts: (number | "default")[] = [
  ...new Set(
    values.threads.split(",").map((t) => (t === "default" ? t : t === "all" ? cores : Number(t)))
      .filter((t) => t === "default" || t <= cores),
  ),
];
const runs = Number(values.runs);
const model = ensureSyntheticModel(Number(values["size-mb"]));
const out = `${model}.speed.gguf`;
const copy = `${model}.speed-copy`;
const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
const runtimes: [string, string[]][] = [
  ["deno", [binary("deno"), "run", "-A"]],
  ["bun", [binary("bun")]],
];

/**
 * Runs a shell command, returning seconds and stdout; throws on failure. `fresh` files are
 * removed first (untimed), so that the command writes a new file.
 */
function timed(
  command: string,
  fresh: string[] = [],
): { seconds: number; stdout: string; stderr: string } {
  for (const path of fresh) rmSync(path, { force: true });
  // Dirty pages of the previous run (a pipe's output is written without a flush) are written
  // back first, so that no run pays for the one before it.
  spawnSync("sync");
  const start = performance.now();
  const run = spawnSync("bash", ["-c", command], { encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`${command} failed (${run.status}): ${run.stderr}`);
  return { seconds, stdout: run.stdout, stderr: run.stderr };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const peakMib = (stderr: string) => {
  const peak = stderr.match(/peak memory ([\d.]+) (MB|GB)/);
  return peak === null ? NaN : (Number(peak[1]) * (peak[2] === "GB" ? 1e9 : 1e6)) / 2 ** 20;
};

interface Row {
  runtime: string;
  way: string;
  threads: number | string;
  seconds: number;
  floorName: string;
  floor: number;
  peak: string;
  target?: string;
}
const rows: Row[] = [];

/** `dd` writing `bytes`: over its previous output (truncated in place), or to a new file. */
function ddFloor(bytes: number, fresh = false): number {
  const blocks = Math.ceil(bytes / (4 << 20));
  return timed(
    `dd if=/dev/zero of=${quote(copy)} bs=4M count=${blocks} conv=fdatasync status=none`,
    fresh ? [copy] : [],
  ).seconds;
}

function catFloor(): number {
  return timed(`cat < ${quote(out)} | cat > ${quote(copy)}`).seconds;
}

const cli = (command: string[], args: string) =>
  `${command.map(quote).join(" ")} convert.ts ${args}`;

/** Median seconds of `measure` and of `floor` (if any), interleaved; the last run. */
function paired<T extends { seconds: number }>(measure: () => T, floor?: () => number) {
  const times: number[] = [];
  const floors: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < runs; i++) {
    last = measure();
    times.push(last.seconds);
    if (floor !== undefined) floors.push(floor());
  }
  return { seconds: median(times), floor: median(floors), last: last! };
}

const llama = (type: string) => {
  const run = timed(
    `${quote(binary("deno"))} run -A bench/_llama_quantize.ts ${quote(model)} ${
      quote(copy)
    } ${type}`,
  );
  const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
  return result.unavailable === undefined ? result.ms / 1000 : NaN;
};
const llamaQ8 = median(Array.from({ length: runs }, () => llama("Q8_0")));
const llamaF32 = median(Array.from({ length: runs }, () => llama("F32")));

for (const [runtime, command] of runtimes) {
  const perThreads = new Map<number | "default", Record<string, number>>();
  const memoryCase = (args: string) => {
    const run = JSON.parse(
      timed(`${command.map(quote).join(" ")} bench/_speed_memory_case.ts ${args}`).stdout,
    );
    return { ...run, seconds: run.ms / 1000 };
  };
  for (const threads of threadCounts) {
    const t = threads === "default" ? "" : `--threads ${threads}`;
    const seconds: Record<string, number> = {};
    // File to a new file, both ways: the previous output is removed before each run.
    const outBytes = () => statSync(out).size;
    const fresh = paired(
      () => timed(cli(command, `${quote(model)} -o ${quote(out)} ${t}`), [out]),
      () => ddFloor(outBytes(), true),
    );
    rows.push({
      runtime,
      way: "file → new file",
      threads,
      seconds: fresh.seconds,
      floorName: "dd conv=fdatasync, new file",
      floor: fresh.floor,
      peak: peakMib(fresh.last.stderr).toFixed(0),
      target: "≤ 1.15× floor",
    });
    // File to file, replacing the previous output (dd truncates its own in place; the CLI
    // writes a temporary and renames it over the old file).
    const file = paired(
      () => timed(cli(command, `${quote(model)} -o ${quote(out)} --force ${t}`)),
      () => ddFloor(outBytes()),
    );
    seconds.file = file.seconds;
    rows.push({
      runtime,
      way: "file → file, replacing",
      threads,
      seconds: file.seconds,
      floorName: "dd conv=fdatasync, over its output",
      floor: file.floor,
      peak: peakMib(file.last.stderr).toFixed(0),
      target: "≤ 1.15× floor",
    });
    // Pipe to pipe.
    const pipe = paired(
      () => timed(cli(command, `- -o - ${t} < ${quote(model)} 2>/dev/null | cat > ${quote(out)}`)),
      catFloor,
    );
    rows.push({
      runtime,
      way: "pipe → pipe",
      threads,
      seconds: pipe.seconds,
      floorName: "cat → cat",
      floor: pipe.floor,
      peak: "",
      target: "≤ 1.5× floor",
    });
    // In memory: the child reports its own time and memory.
    const memory = paired(
      () => memoryCase(`convert ${quote(model)} ${threads}`),
      () => memoryCase(`floor ${quote(model)}`).seconds,
    );
    seconds.memory = memory.seconds;
    const { peak, baseline, finalBytes } = memory.last;
    rows.push({
      runtime,
      way: "in memory",
      threads,
      seconds: memory.seconds,
      floorName: "allocate + fill",
      floor: memory.floor,
      peak: `${((peak - baseline) / 2 ** 20).toFixed(0)} over baseline for ${
        (finalBytes / 2 ** 20).toFixed(0)
      }`,
    });
    // Requantizing to Q8_0, file to file, beside F32 output and llama.cpp.
    const q8 = paired(
      () => timed(cli(command, `${quote(model)} -o ${quote(out)} --force --requantize Q8_0 ${t}`)),
    );
    seconds.q8 = q8.seconds;
    rows.push({
      runtime,
      way: "--requantize Q8_0 file → file",
      threads,
      seconds: q8.seconds,
      floorName: "F32 output (above)",
      floor: file.seconds,
      peak: peakMib(q8.last.stderr).toFixed(0),
      target: "≤ 1.5× F32 output",
    });
    perThreads.set(threads, seconds);
  }
  for (
    const [way, key, floor] of [["F32 file → file", "file", llamaF32], [
      "Q8_0 file → file",
      "q8",
      llamaQ8,
    ]] as const
  ) {
    for (const threads of threadCounts) {
      rows.push({
        runtime,
        way,
        threads,
        seconds: perThreads.get(threads)![key],
        floorName: `llama_model_quantize (${cores} threads)`,
        floor,
        peak: "",
      });
    }
  }
  // Scaling: each way's time with one thread over its time with more.
  const one = perThreads.get(1);
  if (one !== undefined) {
    for (const threads of threadCounts.filter((t) => t !== 1)) {
      for (const key of ["memory", "file", "q8"]) {
        rows.push({
          runtime,
          way: `speed-up ${key === "q8" ? "Q8_0 file" : key}`,
          threads,
          seconds: perThreads.get(threads)![key],
          floorName: "1 thread",
          floor: one[key],
          peak: "",
        });
      }
    }
    // In memory, the page faults' cost drifts over a run on a virtual machine (freed memory
    // handed back to the host is slow to touch again), so the speed-up is measured once more
    // with one thread and two taken in turns: the median of each pair's ratio.
    if (cores >= 2) {
      /** One thread's run and two threads' in turns: the pair with the median ratio. */
      const inTurns = (single: () => number, double: () => number) => {
        const pairs = Array.from({ length: runs }, () => [single(), double()]);
        const ratios = pairs.map(([one, two]) => one / two);
        return pairs[ratios.indexOf(median(ratios))];
      };
      const [one, two] = inTurns(
        () => memoryCase(`convert ${quote(model)} 1`).seconds,
        () => memoryCase(`convert ${quote(model)} 2`).seconds,
      );
      rows.push({
        runtime,
        way: "speed-up memory, 1 and 2 threads in turns (median pair)",
        threads: 2,
        seconds: two,
        floorName: "1 thread",
        floor: one,
        peak: "",
        target: "≥ 1.6× at 2 threads",
      });
      // What a second thread could gain at best: allocating and filling the same buffers on
      // one thread and on two, in turns.
      const [floorOne, floorTwo] = inTurns(
        () => memoryCase(`floor ${quote(model)}`).seconds,
        () => memoryCase(`floor2 ${quote(model)}`).seconds,
      );
      rows.push({
        runtime,
        way: "speed-up of allocate + fill, 1 and 2 threads in turns (median pair)",
        threads: 2,
        seconds: floorTwo,
        floorName: "1 thread",
        floor: floorOne,
        peak: "",
      });
    }
  }
}
rmSync(out, { force: true });
rmSync(copy, { force: true });

const lines = [
  `### Speed: ${model} (${(statSync(model).size / 1e6).toFixed(0)} MB), ${cores} cores (${
    cpus()[0]?.model ?? "?"
  }), median of ${runs}`,
  "",
  "| runtime | way | threads | seconds | floor | floor s | × floor | target | peak MiB |",
  "| --- | --- | ---: | ---: | --- | ---: | ---: | --- | --- |",
];
for (const r of rows) {
  const ratio = r.way.startsWith("speed-up") ? r.floor / r.seconds : r.seconds / r.floor;
  lines.push(
    `| ${r.runtime} | ${r.way} | ${r.threads} | ${r.seconds.toFixed(2)} | ${r.floorName} | ${
      Number.isNaN(r.floor) ? "n/a" : r.floor.toFixed(2)
    } | ${Number.isNaN(ratio) ? "n/a" : ratio.toFixed(2)} | ${r.target ?? ""} | ${r.peak} |`,
  );
}
process.stdout.write(lines.join("\n") + "\n");
if (values.markdown) {
  writeMarkdown(values.markdown, "speed", lines.join("\n"), { runtimes: runtimeVersions() });
}
