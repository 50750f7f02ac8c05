/**
 * File output against its floor, measured honestly: the CLI converting a synthetic
 * Q4_K_M-like model (generated on first use into out/) to F32, on Deno and Bun, beside
 * what the machine needs to move as many bytes, in interleaved pairs.
 *
 * - `new`: `IN -o OUT` to a new file, beside `dd bs=1M conv=fdatasync` writing as many
 *   bytes to a new file.
 * - `replace`: `IN -o OUT --force` over an existing output, beside `dd` writing a temporary
 *   file and `mv` renaming it over the existing one (what the converter does to keep the
 *   old file whole until the new one is flushed).
 * - `pipe`: `- -o - < IN | cat > OUT`, beside `cat < X | cat > OUT` with `X` a file of the
 *   output's size: both write their output into a pipe (and leave the bytes in the page
 *   cache, unflushed).
 * - `write`: the runtime writing as many bytes into the same pipe through the CLI's
 *   standard-output sink, converting nothing (`bench/_pipe_writer.ts`), beside the same
 *   floor: the part of the `pipe` gap that is the runtime's own write path.
 *
 * `sync` runs before every timed run (the previous run's dirty pages would slow the next),
 * floor and subject alternate which goes first, and each pair's ratio is kept: the table
 * gives medians with the spread, and the CPU time of each run's processes (from the
 * shell's `times`), which says how close a run is to what the cores allow. The conversion's phases (`-v`: converting, waiting on
 * writes, the final flush, rename) show where a gap comes from. Output files are removed
 * at the end; the synthetic model stays in out/ for the next run.
 *
 *   deno run -A bench/convert_file_bench.ts [--size-mb 330] [--pairs 5] [--runtimes deno,bun,node]
 *     [--ways new,replace,pipe,write] [--markdown docs/performance.md] [--readme README.md]
 *
 * `--markdown` writes both tables into the file (a size other than 330 into a section of
 * its own, `bench:convert-file-SIZE`), `--readme` the first one without the `write` rows
 * (they measure no conversion).
 */
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { binary, runtimeVersions, writeMarkdown } from "./_runner.ts";
import { ensureSyntheticModel } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "size-mb": { type: "string", default: "330" },
    pairs: { type: "string", default: "5" },
    runtimes: { type: "string", default: "deno,bun,node" },
    ways: { type: "string", default: "new,replace,pipe,write" },
    markdown: { type: "string" },
    readme: { type: "string" },
  },
});
const sizeMb = Number(values["size-mb"]);
const pairs = Number(values.pairs);
const ways = values.ways!.split(",");
const runtimes = values.runtimes!.split(",");
const runners: Record<string, string[]> = {
  deno: [binary("deno"), "run", "-A"],
  bun: [binary("bun")],
  node: [binary("node")],
};

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
const model = ensureSyntheticModel(sizeMb);
const output = `out/bench-${sizeMb}.out.gguf`;
const floorFile = `out/bench-${sizeMb}.floor`;
const sized = `out/bench-${sizeMb}.sized`; // a file of the output's size, for the pipe floor

/**
 * Runs a shell command after `sync`, returning its seconds, stderr, and the CPU seconds
 * (user + system) of every process it ran, from the shell's `times`.
 */
function timed(command: string): { seconds: number; stderr: string; cpu: number } {
  spawnSync("sync");
  const start = performance.now();
  const run = spawnSync("bash", ["-c", `${command}\ntimes`], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`failed (${run.status}): ${command}\n${run.stderr}`);
  // `times`: the shell's own user and system time, then its children's ("0m0.512s 0m1.040s").
  const children = run.stdout.trim().split("\n").at(-1) ?? "";
  const cpu = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
    .reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  return { seconds, stderr: run.stderr, cpu };
}

/** The phases `-v` prints ("converting 1.20 s, …"), by name. */
function phases(stderr: string): Record<string, number> {
  const line = stderr.split("\n").find((l) => l.startsWith("note: time:")) ?? "";
  const found: Record<string, number> = {};
  for (const match of line.matchAll(/([a-z][a-z ]*?) (\d+\.\d+) s/g)) {
    found[match[1].replace(/^.*?(background flushes took)$/, "$1")] = Number(match[2]);
  }
  return found;
}

// The output's size, and the existing files the `replace` and `pipe` ways need.
const script = (runtime: string, path: string) => [...runners[runtime], path].map(quote).join(" ");
/**
 * Node runs the CLI as its users do, the npm package's command over the built dist/
 * (`npm run build`; the test command builds it), where it is built: from the .ts sources
 * it spends a third of a second more stripping types at every start.
 */
const nodeBuilt = existsSync("dist/convert.js");
const convert = (runtime: string) =>
  script(runtime, runtime === "node" && nodeBuilt ? "bin/gguf-stream.js" : "convert.ts");
rmSync(output, { force: true });
timed(`${convert(runtimes[0])} ${quote(model)} -o ${quote(output)} -q`);
const outputBytes = statSync(output).size;
timed(`cp ${quote(output)} ${quote(sized)}`);
const megabytes = Math.ceil(outputBytes / 2 ** 20);
const dd = (to: string) =>
  `dd if=/dev/zero of=${quote(to)} bs=1M count=${megabytes} conv=fdatasync status=none`;

interface Way {
  floor: string;
  subject: (runtime: string) => string;
  before: () => void;
}
const WAYS: Record<string, Way> = {
  new: {
    floor: dd(floorFile),
    subject: (rt) => `${convert(rt)} ${quote(model)} -o ${quote(output)} -v`,
    before: () => {
      rmSync(output, { force: true });
      rmSync(floorFile, { force: true });
    },
  },
  replace: {
    floor: `${dd(floorFile + ".tmp")} && mv ${quote(floorFile + ".tmp")} ${quote(floorFile)}`,
    subject: (rt) => `${convert(rt)} ${quote(model)} -o ${quote(output)} --force -v`,
    before: () => {
      if (!existsSync(output)) timed(`cp ${quote(sized)} ${quote(output)}`);
      if (!existsSync(floorFile)) timed(`cp ${quote(sized)} ${quote(floorFile)}`);
    },
  },
  pipe: {
    floor: `cat < ${quote(sized)} | cat > ${quote(floorFile)}`,
    subject: (rt) => `${convert(rt)} - -o - -v < ${quote(model)} | cat > ${quote(output)}`,
    before: () => {
      rmSync(output, { force: true });
      rmSync(floorFile, { force: true });
    },
  },
  write: {
    floor: `cat < ${quote(sized)} | cat > ${quote(floorFile)}`,
    subject: (rt) =>
      `${script(rt, "bench/_pipe_writer.ts")} ${outputBytes} | cat > ${quote(output)}`,
    before: () => {
      rmSync(output, { force: true });
      rmSync(floorFile, { force: true });
    },
  },
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const range = (xs: number[], digits = 2) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

const rows: string[] = [];
/** The rows of ways that convert (the README's table). */
const conversionRows: string[] = [];
const phaseRows: string[] = [];
for (const wayName of ways) {
  const way = WAYS[wayName];
  if (way === undefined) throw new Error(`unknown way ${wayName}: new, replace, pipe or write`);
  for (const runtime of runtimes) {
    const floors: number[] = [];
    const subjects: number[] = [];
    const ratios: number[] = [];
    const seen: Record<string, number[]> = {};
    for (let pair = 0; pair < pairs; pair++) {
      let floor = 0;
      let subject = { seconds: 0, stderr: "", cpu: 0 };
      const runFloor = () => {
        way.before();
        const run = timed(way.floor);
        floor = run.seconds;
        (seen["floor cpu"] ??= []).push(run.cpu);
      };
      const runSubject = () => {
        way.before();
        subject = timed(way.subject(runtime));
      };
      if (pair % 2 === 0) (runFloor(), runSubject());
      else (runSubject(), runFloor());
      floors.push(floor);
      subjects.push(subject.seconds);
      (seen["cpu"] ??= []).push(subject.cpu);
      ratios.push(subject.seconds / floor);
      const peak = subject.stderr.match(/peak memory ([\d.]+) (kB|MB|GB)/);
      if (peak !== null) {
        const scale = { kB: 1e3, MB: 1e6, GB: 1e9 }[peak[2]]!;
        (seen["peak"] ??= []).push((Number(peak[1]) * scale) / 2 ** 20);
      }
      const found = phases(subject.stderr);
      for (const [name, seconds] of Object.entries(found)) (seen[name] ??= []).push(seconds);
      const inside = ["preparing", "converting", "waiting on writes", "committing"]
        .reduce((sum, name) => sum + (found[name] ?? 0), 0);
      (seen["outside"] ??= []).push(subject.seconds - inside);
      process.stderr.write(
        `${wayName} ${runtime} pair ${pair + 1}: floor ${floor.toFixed(2)} s, ours ${
          subject.seconds.toFixed(2)
        } s (${(subject.seconds / floor).toFixed(2)}×)\n`,
      );
    }
    const row = `| ${wayName} | ${runtime} | ${median(floors).toFixed(2)} (${range(floors)}) | ${
      median(subjects).toFixed(2)
    } (${range(subjects)}) | **${median(ratios).toFixed(2)}** (${range(ratios)}) | ${
      median(seen["floor cpu"]).toFixed(2)
    } | ${median(seen["cpu"]).toFixed(2)} | ${
      seen["peak"] === undefined ? "–" : median(seen["peak"]).toFixed(0)
    } |`;
    rows.push(row);
    if (wayName !== "write") conversionRows.push(row);
    if (wayName === "write") continue; // no phases: nothing is converted
    const phase = (name: string) => seen[name] === undefined ? "–" : median(seen[name]).toFixed(2);
    phaseRows.push(
      `| ${wayName} | ${runtime} | ${phase("outside")} | ${phase("preparing")} | ${
        phase("converting")
      } | ${phase("waiting on writes")} | ${phase("final flush")} | ${phase("rename")} | ${
        phase("directory flush")
      } |`,
    );
  }
}
for (const file of [output, floorFile, floorFile + ".tmp", sized]) rmSync(file, { force: true });

const cores = availableParallelism();
const intro = `${(statSync(model).size / 2 ** 20).toFixed(0)} MiB synthetic Q4_K_M-like model → ${
  (outputBytes / 2 ** 20).toFixed(0)
} MiB F32; ${pairs} interleaved pairs per row, \`sync\` before every run; seconds as median (min–max); "× floor" is the median of the pairs' ratios; CPU is the user and system time of every process of a run (median): on ${cores} cores no run takes less than its CPU ÷ ${cores}.${
  runtimes.includes("node")
    ? nodeBuilt
      ? " Node runs the npm package's `gguf-stream` command (dist/, built by `npm run build`)."
      : " Node runs convert.ts from source (no dist/ built): its start strips types."
    : ""
}`;
const table = (lines: string[]) =>
  [
    intro,
    "",
    "| way | runtime | floor, s | gguf-stream, s | × floor | floor CPU, s | gguf-stream CPU, s | peak RSS, MiB |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...lines,
  ].join("\n");
const writeNote = rows.length > conversionRows.length
  ? [
    "",
    "_write_: the runtime writing the same bytes into the same pipe through the blocking standard-output sink the CLI writes a pipe with, 128 KiB at a time from one buffer, converting nothing (`bench/_pipe_writer.ts`), beside the same floor as _pipe_: what is left of the _pipe_ gap is the conversion's.",
  ]
  : [];
const markdown = [
  table(rows),
  ...writeNote,
  "",
  "Where the conversion's time went (`-v`; medians, seconds): writes run beside the conversion, so _converting_ is what the writes did not hide and _waiting on writes_ what the conversion did not hide; _start, open, exit_ is the rest of the process's time (the runtime starting, opening the input, exiting).",
  "",
  "| way | runtime | start, open, exit | preparing | converting | waiting on writes | final flush | rename | directory flush |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...phaseRows,
].join("\n");
process.stdout.write(markdown + "\n");
if (values.markdown !== undefined) {
  // Another size has a section of its own (the 330 MB one is the docs' main table).
  const section = sizeMb === 330 ? "convert-file" : `convert-file-${sizeMb}`;
  writeMarkdown(values.markdown, section, markdown, { runtimes: runtimeVersions() });
}
if (values.readme !== undefined) {
  writeMarkdown(values.readme, "convert-file", table(conversionRows), {
    runtimes: runtimeVersions(),
  });
}
