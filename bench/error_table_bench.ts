/**
 * The error/size table: how much error each of gguf-stream's outputs adds to a model that
 * llama.cpp quantized itself, at how many bits per weight, and how far it moves the logits
 * of real llama.cpp.
 *
 *   deno run -A bench/error_table_bench.ts [--markdown docs/requantization.md]
 *       [--sources Q4_K_M,IQ4_XS] [--only Q4_0,Q8_0,...] [--no-logits] [--threads N]
 *       [--gguf-py DIR]
 *
 * 1. Writes a seeded 46 M-parameter F32 llama with a real vocabulary (_source_llama.ts) and
 *    has llama.cpp (`llama_model_quantize`, node-llama-cpp's prebuilt libraries, fetched into
 *    out/llama-cpp/ on first use) quantize it into each source type.
 * 2. Converts each source with gguf-stream's CLI: `--requantize T` for every type
 *    `quantizableTypes()` lists (and `--method reference` beside it where a transcoder
 *    could apply), the runtime profiles, `--requantize auto` and `--target F32` — each run
 *    whose flags the CLI does not know yet is listed with its refusal instead of figures.
 *    Every transcoder of `allTranscoders()` whose source type the model holds is also run
 *    directly on those tensors.
 * 3. For every output, over all 2-D tensors: relative RMS error `sqrt(Σ(out−x)²/Σx²)`
 *    against the source's exact values (its `to_float`) and against the F32 original, bits
 *    per weight, and — loading it in llama.cpp — max and RMS |Δlogit| over every position
 *    of a fixed prompt against the source's exact F32 conversion.
 *
 * With `--gguf-py DIR` (llama.cpp's gguf-py directory, and numpy), each source's exact
 * values are first checked bit for bit against gguf-py's independent numpy dequantizer.
 * The matching llama.cpp source ships in node-llama-cpp: `npm pack node-llama-cpp@3.22.1`,
 * then `git clone package/llama/gitRelease.bundle llama.cpp` gives `llama.cpp/gguf-py`.
 *
 * A whole run (every type, both sources) takes minutes on a busy machine; `--sources` and
 * `--only` split it.
 *
 * Files go to out/error-table/ (outputs are deleted once measured). With `--markdown FILE`
 * the table is written into FILE between `<!-- error-table:begin -->` and
 * `<!-- error-table:end -->` (appended when the markers are absent), with the command and
 * the date.
 */
import { spawnSync } from "node:child_process";
import { binary } from "./_runner.ts";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { parseArgs } from "node:util";
import {
  dequantize,
  ggmlType,
  type GgufFile,
  quantize,
  readGguf,
  type TensorInfo,
} from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { quantizableTypes } from "../src/convert/kernels.ts";
import { allTranscoders, type Transcoder } from "../src/convert/transcode/transcoders.ts";
import { Llama, type LlamaLogits } from "./_llama_ffi.ts";
import { SOURCE_LLAMA, writeSourceLlama } from "./_source_llama.ts";

const DIR = "out/error-table";
const PROMPT = "The old lighthouse keeper climbed the stairs each night to light the lamp.";
const BEGIN = "<!-- error-table:begin -->";
const END = "<!-- error-table:end -->";

/** One measured (or refused) output. */
interface Row {
  source: string;
  output: string;
  how: string;
  bits?: number;
  mb?: number;
  error?: number;
  errorVsOriginal?: number;
  maxLogit?: number;
  rmsLogit?: number;
  types?: string;
  note?: string;
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    markdown: { type: "string" },
    sources: { type: "string", default: "Q4_K_M,IQ4_XS" },
    only: { type: "string" },
    "no-logits": { type: "boolean", default: false },
    threads: { type: "string", default: "2" },
    "gguf-py": { type: "string" },
  },
});
const threads = Number(flags.threads);

/** Transcoders register themselves in the modules of src/convert/transcode/: load them all. */
async function loadTranscoders(): Promise<Transcoder[]> {
  const dir = new URL("../src/convert/transcode/", import.meta.url);
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith(".ts") && !file.endsWith("_test.ts")) await import(new URL(file, dir).href);
  }
  return allTranscoders();
}

/** A GGUF read whole, with a view of each tensor's bytes. */
interface LoadedGguf {
  file: GgufFile;
  tensors: TensorInfo[];
  bytes: Uint8Array;
}

async function load(path: string): Promise<LoadedGguf> {
  const file = await readGguf(path);
  return { file, tensors: file.tensors, bytes: readFileSync(path) };
}

/**
 * What `--requantize T` would write, made with the library's `quantize()` where the CLI
 * does not take T yet: every 2-D tensor of another type quantized from the source's exact
 * values, the rest (norms, tensors already of type T) kept, the metadata copied.
 */
function writeQuantized(source: LoadedGguf, type: string, path: string): void {
  const id = ggmlType(type)!.id;
  const convert = (t: TensorInfo) => is2d(t) && t.type !== id;
  const datas = source.tensors.map((t) =>
    convert(t) ? quantize(type, valuesOf(source, t)) : tensorBytes(source, t)
  );
  const header = encodeGgufHeader({
    alignment: source.file.alignment,
    metadata: [...source.file.metadata.values()],
    tensors: source.tensors.map((t, i) => ({
      name: t.name,
      shape: t.shape,
      type: convert(t) ? id : t.type,
      nbytes: datas[i].length,
    })),
  });
  const out = new Uint8Array(header.fileSize);
  out.set(header.bytes);
  datas.forEach((data, i) => out.set(data, header.dataOffset + header.offsets[i]));
  writeFileSync(path, out);
}

const tensorBytes = (model: LoadedGguf, t: TensorInfo) =>
  model.bytes.subarray(t.fileOffset, t.fileOffset + t.nbytes);

/** A tensor's values as float32 (its type's to_float). */
function valuesOf(model: LoadedGguf, t: TensorInfo): Float32Array {
  return dequantize(t.type, tensorBytes(model, t));
}

const is2d = (t: TensorInfo) => t.shape.length >= 2 && t.shape[1] > 1;

/** Σ(a−b)² and Σb². */
function squares(a: Float32Array, b: Float32Array): [number, number] {
  let diff = 0, ref = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    diff += d * d;
    ref += b[i] * b[i];
  }
  return [diff, ref];
}

/** Relative RMS errors of `model` against `exact` and the F32 original, bits per weight. */
function measure(model: LoadedGguf, exact: LoadedGguf, original: LoadedGguf) {
  const byName = (m: LoadedGguf) => new Map(m.tensors.map((t) => [t.name, t]));
  const exactTensors = byName(exact), originalTensors = byName(original);
  let d1 = 0, r1 = 0, d2 = 0, r2 = 0, bytes = 0, weights = 0;
  const counts = new Map<string, number>();
  for (const t of model.tensors.filter(is2d)) {
    const out = valuesOf(model, t);
    const [a, b] = squares(out, valuesOf(exact, exactTensors.get(t.name)!));
    const [c, d] = squares(out, valuesOf(original, originalTensors.get(t.name)!));
    d1 += a, r1 += b, d2 += c, r2 += d;
    bytes += t.nbytes, weights += t.elements;
    counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + 1);
  }
  return {
    error: Math.sqrt(d1 / r1),
    errorVsOriginal: Math.sqrt(d2 / r2),
    bits: (8 * bytes) / weights,
    types: [...counts].map(([name, n]) => `${name}×${n}`).join(" "),
  };
}

function logitDelta(a: LlamaLogits, ref: LlamaLogits) {
  if (a.logits.length !== ref.logits.length) throw new Error("prompts tokenized differently");
  let max = 0, sum = 0;
  for (let i = 0; i < a.logits.length; i++) {
    const d = Math.abs(a.logits[i] - ref.logits[i]);
    if (!Number.isFinite(d)) return { maxLogit: NaN, rmsLogit: NaN };
    max = Math.max(max, d);
    sum += d * d;
  }
  return { maxLogit: max, rmsLogit: Math.sqrt(sum / a.logits.length) };
}

const GGUF_PY_HASHES = `
import sys, hashlib, numpy as np
sys.path.insert(0, sys.argv[1])
from gguf import GGUFReader
from gguf.quants import dequantize
for t in GGUFReader(sys.argv[2]).tensors:
    v = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
    print(t.name, hashlib.sha256(v.tobytes()).hexdigest())
`;

/** Checks every tensor's float32 values against gguf-py's; returns what it found. */
async function checkWithGgufPy(model: LoadedGguf, path: string, ggufPy: string): Promise<string> {
  const run = spawnSync("python3", ["-c", GGUF_PY_HASHES, ggufPy, path], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`gguf-py failed: ${run.stderr.trim()}`);
  const theirs = new Map(
    run.stdout.trim().split("\n").map((line) => line.split(" ") as [string, string]),
  );
  for (const t of model.tensors) {
    const values = valuesOf(model, t);
    const digest = await crypto.subtle.digest("SHA-256", new Float32Array(values));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (theirs.get(t.name) !== hex) throw new Error(`${t.name}: gguf-py dequantizes otherwise`);
  }
  return `${model.tensors.length} tensors equal to gguf-py's bit for bit`;
}

/** Runs gguf-stream's CLI; the first line of its complaint when it refuses. */
function convert(input: string, output: string, args: string[]): string | undefined {
  const run = spawnSync(
    Deno.execPath(),
    [
      "run",
      "-A",
      "convert.ts",
      input,
      "-o",
      output,
      "--force",
      "-q",
      "--threads",
      `${threads}`,
      ...args,
    ],
    { encoding: "utf8" },
  );
  if (run.status === 0) return undefined;
  return (run.stderr.trim().split("\n").find((line) => line.startsWith("error")) ??
    run.stderr.trim().split("\n")[0] ?? `exit ${run.status}`).replace(/^error: /, "");
}

const llama = Llama.open(true);
if ("unavailable" in llama) {
  console.log(JSON.stringify({ unavailable: llama.unavailable }));
  Deno.exit(0);
}
mkdirSync(DIR, { recursive: true });
const originalPath = `${DIR}/source-f32.gguf`;
if (!existsSync(originalPath)) await writeSourceLlama(originalPath, SOURCE_LLAMA);
const original = await load(originalPath);
const originalByName = new Map(original.tensors.map((t) => [t.name, t]));
const transcoders = await loadTranscoders();
const only: string[] | undefined = flags.only?.split(",").map((name) =>
  ggmlType(name.trim())?.name ?? name
);
const requantTypes = quantizableTypes().filter((name) => only === undefined || only.includes(name));
const rows: Row[] = [];
const started = new Date();
let promptTokens = 0;
const checks: string[] = [];

for (const sourceType of flags.sources!.split(",")) {
  const sourcePath = `${DIR}/source-${sourceType}.gguf`;
  if (!existsSync(sourcePath)) llama.quantize(originalPath, sourcePath, sourceType, threads);
  const source = await load(sourcePath);
  const sourceTypes = new Set(source.tensors.map((t) => t.type));
  if (flags["gguf-py"] !== undefined) {
    const found = await checkWithGgufPy(source, sourcePath, flags["gguf-py"]);
    checks.push(`${sourceType}: ${found}`);
    console.error(`${sourceType}: ${found}`);
  }
  const reference = `${DIR}/${sourceType}-F32.gguf`;
  const refused = convert(sourcePath, reference, ["--target", "F32"]);
  if (refused !== undefined) throw new Error(`--target F32 failed: ${refused}`);
  const refLogits = flags["no-logits"] ? undefined : llama.logits(reference, PROMPT, threads);
  if (refLogits !== undefined) promptTokens = refLogits.tokens.length;

  const record = async (output: string, how: string, path: string, keep = false) => {
    const model = path === sourcePath ? source : await load(path);
    const row: Row = {
      source: sourceType,
      output,
      how,
      ...measure(model, source, original),
      mb: statSync(path).size / 1e6,
    };
    if (refLogits !== undefined) {
      try {
        Object.assign(row, logitDelta(llama.logits(path, PROMPT, threads), refLogits));
      } catch (error) {
        row.note = `llama.cpp: ${(error as Error).message}`;
      }
    }
    rows.push(row);
    console.error(format(row));
    if (!keep) rmSync(path, { force: true });
  };

  await record("(source itself)", "llama_model_quantize of the F32 original", sourcePath, true);
  await record("--target F32", "dequantize (exact)", reference, true);

  const runs: [string, string[]][] = [];
  for (const name of requantTypes) {
    if (name === "F32") continue;
    runs.push([`--requantize ${name}`, ["--requantize", name, "--target", `${name},F32`]]);
    const id = ggmlType(name)!.id;
    if (transcoders.some((t) => t.to === id && sourceTypes.has(t.from))) {
      runs.push([`--requantize ${name} --method reference`, [
        "--requantize",
        name,
        "--target",
        `${name},F32`,
        "--method",
        "reference",
      ]]);
    }
  }
  if (only === undefined) {
    for (const profile of ["candle", "mlx", "q4q8", "llama.cpp"]) {
      runs.push([`--for ${profile}`, ["--for", profile]]);
    }
    runs.push(["--requantize auto", ["--requantize", "auto"]]);
  }
  for (const [label, args] of runs) {
    const path = `${DIR}/${sourceType}-out.gguf`;
    const why = convert(sourcePath, path, args);
    const type = args[0] === "--requantize" && args.length === 4 ? args[1] : undefined;
    if (why !== undefined && type !== undefined && ggmlType(type) !== undefined) {
      writeQuantized(source, type, path);
      await record(label, `library quantize() (the CLI says: ${why})`, path);
      continue;
    }
    if (why !== undefined) {
      rows.push({ source: sourceType, output: label, how: "", note: `not yet: ${why}` });
      console.error(`${sourceType} ${label}: not yet: ${why}`);
      continue;
    }
    await record(label, "gguf-stream CLI", path);
  }

  // Each transcoder on the tensors of its source type, directly (no file, no logits).
  for (const transcoder of transcoders) {
    if (!sourceTypes.has(transcoder.from)) continue;
    const from = ggmlType(transcoder.from)!, to = ggmlType(transcoder.to)!;
    let d = 0, r = 0, d0 = 0, r0 = 0, bytes = 0, weights = 0, n = 0;
    for (const t of source.tensors.filter((t) => is2d(t) && t.type === transcoder.from)) {
      const blocks = t.elements / from.blockSize;
      const out = new Uint8Array((t.elements / to.blockSize) * to.bytesPerBlock);
      transcoder.kernel(tensorBytes(source, t), out, blocks);
      const values = dequantize(to.id, out);
      const [a, b] = squares(values, valuesOf(source, t));
      const [a0, b0] = squares(values, valuesOf(original, originalByName.get(t.name)!));
      d += a, r += b, d0 += a0, r0 += b0, bytes += out.length, weights += t.elements, n++;
    }
    const row: Row = {
      source: sourceType,
      output: `transcode ${from.name} → ${to.name}`,
      how: `kernel, on the ${n} ${from.name} tensors only${
        transcoder.lossless ? " (lossless)" : ""
      }`,
      error: Math.sqrt(d / r),
      errorVsOriginal: Math.sqrt(d0 / r0),
      bits: (8 * bytes) / weights,
    };
    rows.push(row);
    console.error(format(row));
  }
  rmSync(reference, { force: true });
}
llama.close();

function pct(x: number | undefined): string {
  if (x === undefined) return "";
  if (!Number.isFinite(x)) return String(x);
  return x >= 0.1 ? `${(100 * x).toFixed(1)} %` : `${(100 * x).toFixed(2)} %`;
}
function num(x: number | undefined, digits: number): string {
  return x === undefined ? "" : x.toFixed(digits);
}

function format(row: Row): string {
  return `${row.source} ${row.output}: ${num(row.bits, 2)} b/w, error ${pct(row.error)} ` +
    `(vs F32 original ${pct(row.errorVsOriginal)}), max|Δlogit| ${num(row.maxLogit, 4)}, ` +
    `RMS ${num(row.rmsLogit, 4)} ${row.note ?? ""}`;
}

function markdown(): string {
  const command = `deno run -A bench/error_table_bench.ts ${Deno.args.join(" ")}`.trim();
  const lines = [
    `Measured ${started.toISOString().slice(0, 10)} with \`${command}\` on a seeded ` +
    `46 M-parameter F32 llama (embd ${SOURCE_LLAMA.embd}, ff ${SOURCE_LLAMA.ff}, ` +
    `${SOURCE_LLAMA.layers} layers, the llama-spm vocabulary) quantized by llama.cpp ` +
    `(node-llama-cpp's prebuilt libraries, llama.cpp v0.5.0). Errors are relative RMS over ` +
    `all 2-D tensors, weights-weighted: against the source's exact values (its to_float) and ` +
    `against the F32 original` + (promptTokens === 0 ? " (logits not measured)." : "; logits " +
      `are llama.cpp's, every position of a ${promptTokens}-token prompt, against the ` +
      `source's exact F32 conversion (gguf-stream's --target F32).`),
    ...(checks.length > 0
      ? ["", `Source values checked against gguf-py: ${checks.join("; ")}.`]
      : []),
    "",
    "| source | output | bits/weight | MB | error vs source | vs F32 original | max \\|Δlogit\\| | RMS Δlogit | types / note |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.source} | ${row.output} | ${num(row.bits, 2)} | ${num(row.mb, 1)} | ${
        pct(row.error)
      } | ` +
        `${pct(row.errorVsOriginal)} | ${num(row.maxLogit, 4)} | ${num(row.rmsLogit, 4)} | ` +
        `${
          [row.types, row.how === "gguf-stream CLI" ? "" : row.how, row.note].filter(Boolean).join(
            "; ",
          )
        } |`,
    );
  }
  return lines.join("\n");
}

const table = markdown();
console.log(table);
if (flags.markdown !== undefined) {
  const file = flags.markdown;
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const block = `${BEGIN}\n${table}\n${END}`;
  const start = text.indexOf(BEGIN), end = text.indexOf(END);
  const next = start >= 0 && end > start
    ? text.slice(0, start) + block + text.slice(end + END.length)
    : `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}\n${block}\n`;
  writeFileSync(file, next);
  // Formatted as the repository's checks want it.
  spawnSync(binary("deno"), ["fmt", "--quiet", file], { stdio: "ignore" });
  console.error(`wrote the table into ${file}`);
}
