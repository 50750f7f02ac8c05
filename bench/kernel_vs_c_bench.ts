/**
 * Our dequantization kernels against ggml's portable C (`dequantize_row_*` in
 * `src/ggml-quants.c`) on the same bytes in the same run: one command prints, per type,
 * million weights per second under Deno and under Bun, of `dequantize()` into an array (the
 * SIMD kernel where the type has one, copying its values out of WebAssembly memory), of the
 * SIMD kernel writing in place into a buffer of its own memory (`simdOutputBuffer()`, what
 * the file, stream and requantizing paths give it: "in place"), and of the portable kernel, of ggml's C built with `-O3`
 * (and with `-O3 -march=native` if given), and our speed as a fraction of the `-O3` C.
 *
 * The C is called through each runtime's FFI from the very process that times our
 * kernel, on the very buffer it reads (4 Mi weights of `bench/_blocks.ts`'s random blocks
 * per type), and its output is compared bit for bit with ours before anything is timed.
 * Runs alternate ours, in place, portable, C, C native, ours, … (every output 16 MiB) and the best of each is
 * kept, because the machine may be shared. The driver runs the worker under Deno, then
 * Bun, `--passes` times over, and keeps the best of every pass. The ratios divide bests
 * taken in the same processes, so they hold better than the absolute figures on a busy
 * machine.
 *
 * No C is part of this repository: build ggml's reference quantizers as a shared
 * library from a ggml checkout (the undefined `ggml_*` helpers are only reached on
 * error paths the dequantizers never take, and are bound lazily):
 *
 *   git clone --depth 1 https://github.com/ggml-org/ggml /tmp/ggml && cd /tmp/ggml
 *   gcc -O3 -DNDEBUG -shared -fPIC -Iinclude -Isrc src/ggml-quants.c -lm \
 *     -o /tmp/libggml-quants-O3.so
 *   gcc -O3 -march=native -DNDEBUG -shared -fPIC -Iinclude -Isrc src/ggml-quants.c -lm \
 *     -o /tmp/libggml-quants-native.so
 *
 * then, from the repository root (either runtime drives both):
 *
 *   GGML_QUANTS_LIB=/tmp/libggml-quants-O3.so \
 *   GGML_QUANTS_LIB_NATIVE=/tmp/libggml-quants-native.so \
 *     deno run -A bench/kernel_vs_c_bench.ts [--passes=3] [--rounds=15] [--types=Q4_K,Q8_0]
 *       [--markdown docs/performance.md]
 *
 * (`--c=PATH` and `--c-native=PATH` do the same as the variables.) Without a library
 * the C columns are skipped with a note and only our speeds are printed.
 */
import { execFileSync } from "node:child_process";
import { dequantize, ggmlType } from "../mod.ts";
import { bytesFor } from "../src/model/ggml_type.ts";
import { dequantizerOf } from "../src/convert/kernels.ts";
import { kernelFloats } from "../kernels.ts";
import { simdKernel, simdOutputBuffer } from "../src/convert/simd/simd_kernels.ts";
import { randomBlocks } from "./_blocks.ts";
import { commandLine, runtimeCommands, runtimeName, writeMarkdown } from "./_runner.ts";
import { loadCRowFunctions } from "./_c_rows.ts";

/** The types ggml's `ggml-quants.c` has a portable `dequantize_row_*` for. */
const ALL_TYPES = [
  "Q4_K",
  "Q5_K",
  "Q8_0",
  "Q5_0",
  "Q5_1",
  "Q6_K",
  "Q2_K",
  "Q3_K",
  "Q4_0",
  "Q4_1",
  "IQ4_NL",
  "IQ4_XS",
  "IQ2_XXS",
  "IQ2_XS",
  "IQ2_S",
  "IQ3_XXS",
  "IQ3_S",
  "IQ1_S",
  "IQ1_M",
  "TQ1_0",
  "TQ2_0",
  "MXFP4",
  "NVFP4",
  "Q1_0",
  "Q2_0",
];
const WEIGHTS = 1 << 22;
/** The chunk loop's step: 4 MiB of float32 values. */
const STEP_WEIGHTS = 1 << 20;

/** A C dequantizer: `k` weights from `src` into `dst`. */
type CKernel = (src: Uint8Array, dst: Float32Array, k: number) => void;

/** What a worker measured for one type: best milliseconds per call. */
interface TypeResult {
  ours: number;
  portable: number;
  /** The SIMD kernel into its own memory in 4 MiB steps, if the type has one. */
  inPlace: number | null;
  /** `dequantize()` into a `kernelFloats()` array, if the type has a SIMD kernel. */
  intoKernelFloats: number | null;
  /** ggml's C -O3 in the same 4 MiB steps. */
  cSteps: number | null;
  c: number | null;
  native: number | null;
}

interface WorkerReport {
  runtime: string;
  results: Record<string, TypeResult>;
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** ggml's name for a type's dequantizer: `dequantize_row_q4_K`, `dequantize_row_iq4_nl`. */
function cSymbol(type: string): string {
  return `dequantize_row_${type.toLowerCase().replace(/_k$/, "_K")}`;
}

/** ggml's dequantizers for `types` from the shared library at `path`, by type name. */
async function loadC(path: string, types: string[]): Promise<Record<string, CKernel>> {
  const functions = await loadCRowFunctions(path, types.map(cSymbol));
  return Object.fromEntries(types.map((t) => [t, functions[cSymbol(t)]]));
}

function sameBits(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Measures every type in this process and prints one JSON report line. */
async function worker(types: string[], rounds: number): Promise<void> {
  const cPath = process.env.GGML_QUANTS_LIB;
  const nativePath = process.env.GGML_QUANTS_LIB_NATIVE;
  const c = cPath ? await loadC(cPath, types) : undefined;
  const native = nativePath ? await loadC(nativePath, types) : undefined;
  const ours = new Float32Array(WEIGHTS);
  const theirs = new Float32Array(WEIGHTS);
  const kernelOut = kernelFloats(WEIGHTS);
  const results: Record<string, TypeResult> = {};
  for (const type of types) {
    const traits = ggmlType(type)!;
    const src = randomBlocks(type, WEIGHTS);
    const blocks = src.length / traits.bytesPerBlock;
    const runOurs = () => void dequantize(traits.id, src, ours);
    const portable = dequantizerOf(traits.id)!.portable;
    const runPortable = () => portable(src, ours, blocks, true);
    const simd = simdKernel(traits.id);
    // In place as the chunk loop calls it: steps of STEP_WEIGHTS into one reused buffer.
    const placeBytes = simd === undefined ? undefined : simdOutputBuffer(STEP_WEIGHTS * 4);
    const place = placeBytes &&
      new Float32Array(placeBytes.buffer, placeBytes.byteOffset, STEP_WEIGHTS);
    /** Calls `convert` on each STEP_WEIGHTS run of the blocks, with its first weight. */
    const eachStep = (convert: (blocks: Uint8Array, first: number) => void) => {
      for (let first = 0; first < WEIGHTS; first += STEP_WEIGHTS) {
        convert(
          src.subarray(bytesFor(traits, first), bytesFor(traits, first + STEP_WEIGHTS)),
          first,
        );
      }
    };
    const stepBlocks = STEP_WEIGHTS / traits.blockSize;
    const runInPlace = simd && place
      ? () => eachStep((blocks) => simd(blocks, place, stepBlocks))
      : undefined;
    const runIntoKernelFloats = simd && (() => void dequantize(traits.id, src, kernelOut));
    if (runInPlace !== undefined) {
      runOurs();
      eachStep((blocks, first) => {
        simd!(blocks, place!, stepBlocks);
        const wrong = sameBits(place!, ours.subarray(first, first + STEP_WEIGHTS));
        if (wrong >= 0) throw new Error(`${type}: in place differs at weight ${first + wrong}`);
      });
    }
    if (runIntoKernelFloats) {
      runOurs();
      runIntoKernelFloats();
      const wrong = sameBits(kernelOut, ours);
      if (wrong >= 0) throw new Error(`${type}: into kernelFloats() differs at weight ${wrong}`);
    }
    // ggml's C the same way, into an array of one step.
    const cStep = new Float32Array(STEP_WEIGHTS);
    const runCSteps = (kernels: Record<string, CKernel>) =>
      eachStep((blocks) => kernels[type](blocks, cStep, STEP_WEIGHTS));

    for (const [label, kernels] of [["-O3", c], ["-O3 -march=native", native]] as const) {
      if (kernels === undefined) continue;
      runOurs();
      theirs.fill(0);
      kernels[type](src, theirs, WEIGHTS);
      const at = sameBits(ours, theirs);
      if (at >= 0) {
        throw new Error(
          `${type}: ggml's C (${label}) and gguf-stream differ at weight ${at}: ${theirs[at]} vs ${
            ours[at]
          }`,
        );
      }
    }
    // Timed runs all write to the same warm output.
    for (let i = 0; i < 5; i++) {
      runOurs();
      runPortable();
    }
    const best: TypeResult = {
      ours: Infinity,
      portable: Infinity,
      inPlace: runInPlace ? Infinity : null,
      intoKernelFloats: runIntoKernelFloats ? Infinity : null,
      cSteps: null,
      c: null,
      native: null,
    };
    if (c) best.c = Infinity;
    if (native) best.native = Infinity;
    for (let r = 0; r < rounds; r++) {
      best.ours = Math.min(best.ours, time(runOurs));
      if (runInPlace) best.inPlace = Math.min(best.inPlace!, time(runInPlace));
      if (runIntoKernelFloats) {
        // Its output is its own: warm it as the previous run warms the array C writes.
        runIntoKernelFloats();
        best.intoKernelFloats = Math.min(best.intoKernelFloats!, time(runIntoKernelFloats));
      }
      best.portable = Math.min(best.portable, time(runPortable));
      if (c) best.c = Math.min(best.c!, time(() => c[type](src, ours, WEIGHTS)));
      if (c) best.cSteps = Math.min(best.cSteps ?? Infinity, time(() => runCSteps(c)));
      if (native) {
        best.native = Math.min(
          best.native!,
          time(() => native[type](src, ours, WEIGHTS)),
        );
      }
    }
    results[type] = best;
  }
  const report: WorkerReport = { runtime: runtimeName(), results };
  process.stdout.write(JSON.stringify(report) + "\n");
}

function rate(ms: number | null): number | null {
  return ms === null || !Number.isFinite(ms) ? null : WEIGHTS / 1e3 / ms;
}

function cell(value: number | null, digits = 0): string {
  return value === null ? "–" : value.toFixed(digits);
}

/** Runs the worker under each runtime, `passes` times, and prints the merged table. */
function driver(types: string[], rounds: number, passes: number): void {
  const env = { ...process.env };
  const c = flag("c") ?? env.GGML_QUANTS_LIB;
  const native = flag("c-native") ?? env.GGML_QUANTS_LIB_NATIVE;
  if (c) env.GGML_QUANTS_LIB = c;
  if (native) env.GGML_QUANTS_LIB_NATIVE = native;
  const root = new URL("..", import.meta.url).pathname;
  const best = new Map<string, { runtime: string; results: Record<string, TypeResult> }>();
  for (let pass = 0; pass < passes; pass++) {
    // Each pass starts at a different type, so a burst of load elsewhere does not always
    // fall on the same ones.
    const order = [...types.slice(pass % types.length), ...types.slice(0, pass % types.length)];
    const workerArgs = ["--worker", `--types=${order.join(",")}`, `--rounds=${rounds}`];
    for (const [name, command] of runtimeCommands("bench/kernel_vs_c_bench.ts")) {
      const output = execFileSync(command[0], [...command.slice(1), ...workerArgs], {
        cwd: root,
        env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        maxBuffer: 1 << 20,
      });
      const report = JSON.parse(output.trim().split("\n").at(-1)!) as WorkerReport;
      const seen = best.get(name);
      if (seen === undefined) {
        best.set(name, report);
        continue;
      }
      for (const type of types) {
        const a = seen.results[type];
        const b = report.results[type];
        a.ours = Math.min(a.ours, b.ours);
        a.portable = Math.min(a.portable, b.portable);
        if (a.inPlace !== null && b.inPlace !== null) a.inPlace = Math.min(a.inPlace, b.inPlace);
        if (a.intoKernelFloats !== null && b.intoKernelFloats !== null) {
          a.intoKernelFloats = Math.min(a.intoKernelFloats, b.intoKernelFloats);
        }
        if (a.cSteps !== null && b.cSteps !== null) a.cSteps = Math.min(a.cSteps, b.cSteps);
        if (a.c !== null && b.c !== null) a.c = Math.min(a.c, b.c);
        if (a.native !== null && b.native !== null) a.native = Math.min(a.native, b.native);
      }
    }
  }
  const deno = best.get("deno")!;
  const bun = best.get("bun")!;
  const lines = [
    `### Dequantize ${WEIGHTS / 1048576} Mi weights: gguf-stream vs ggml's C, M weights/s ` +
    `(best of ${rounds} × ${passes}; ${deno.runtime}, ${bun.runtime})`,
    "",
    "| type | Deno portable | Deno | Deno into kernelFloats | Deno in place | Bun portable | Bun | Bun into kernelFloats | Bun in place | C -O3 | C -O3 native | C -O3 in steps | Deno / C | Bun / C | into kernelFloats / C | in place / C in steps |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const type of types) {
    const d = deno.results[type];
    const b = bun.results[type];
    const cMs = d.c === null || b.c === null ? null : Math.min(d.c, b.c);
    const nativeMs = d.native === null || b.native === null ? null : Math.min(d.native, b.native);
    const cRate = rate(cMs);
    const ratio = (ms: number | null) => cRate === null || ms === null ? null : rate(ms)! / cRate;
    const cStepMs = d.cSteps === null || b.cSteps === null ? null : Math.min(d.cSteps, b.cSteps);
    const stepRatio = (ms: number | null) =>
      cStepMs === null || ms === null ? null : rate(ms)! / rate(cStepMs)!;
    const places = [stepRatio(d.inPlace), stepRatio(b.inPlace)].filter((x) => x !== null);
    const spanOf = (xs: (number | null)[]) => {
      const known = xs.filter((x) => x !== null);
      return known.length === 0
        ? "–"
        : `${Math.min(...known).toFixed(2)}–${Math.max(...known).toFixed(2)}`;
    };
    const place = spanOf(places);
    const intoKernelFloats = spanOf([ratio(d.intoKernelFloats), ratio(b.intoKernelFloats)]);
    lines.push(
      `| ${type} | ${cell(rate(d.portable))} | ${cell(rate(d.ours))} | ${
        cell(rate(d.intoKernelFloats))
      } | ${cell(rate(d.inPlace))} | ${cell(rate(b.portable))} | ${cell(rate(b.ours))} | ${
        cell(rate(b.intoKernelFloats))
      } | ${cell(rate(b.inPlace))} | ${cell(cRate)} | ${cell(rate(nativeMs))} | ${
        cell(rate(cStepMs))
      } | ${cell(ratio(d.ours), 2)} | ${cell(ratio(b.ours), 2)} | ${intoKernelFloats} | ${place} |`,
    );
  }
  if (!c) {
    lines.push(
      "",
      "C columns skipped: set GGML_QUANTS_LIB (or --c=PATH) to a build of ggml's " +
        "ggml-quants.c (see this file's header).",
    );
  } else {
    lines.push("", "ggml's C output equals ours bit for bit on every type measured.");
  }
  process.stdout.write(lines.join("\n") + "\n");
  const markdown = flag("markdown") ??
    process.argv[process.argv.indexOf("--markdown") + 1 || process.argv.length];
  if (markdown) {
    const libs = [c && `GGML_QUANTS_LIB=${c}`, native && `GGML_QUANTS_LIB_NATIVE=${native}`];
    writeMarkdown(markdown, "kernel-vs-c", lines.join("\n"), {
      command: commandLine(libs.filter((lib) => lib).join(" ")),
      runtimes: `${deno.runtime}, ${bun.runtime}`,
    });
  }
}

const types = flag("types")?.split(",") ?? ALL_TYPES;
const rounds = Number(flag("rounds") ?? 15);
if (process.argv.includes("--worker")) {
  await worker(types, rounds);
} else {
  driver(types, rounds, Number(flag("passes") ?? 3));
}
