/**
 * What requantization buys and costs:
 * 1. output bytes and file-to-file time of the synthetic bench model (a Q4_K_M-like mix)
 *    converted to F32 (the default), Q8_0 and Q4_0, with the ratio to the F32 run;
 * 2. output sizes of an 8B-class Q4_K_M layout (36 layers, 4096 × 12288, vocab 151,936),
 *    planned from its header alone (a sparse file: no data is written or read);
 * 3. the root-mean-square error of requantized weights against their exact float32
 *    values, per source type, over the reference fixtures' tensors (ggml-made gaussian
 *    weights with outliers), relative to the weights' own RMS.
 *
 *   deno run -A bench/requantize_bench.ts [--size-mb 330] [--markdown docs/performance.md]
 *   bun bench/requantize_bench.ts [--size-mb 330]
 */
import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type ConversionPolicy,
  convertFile,
  convertGguf,
  dequantize,
  GgufValueType,
  planConversion,
  quantize,
  readGguf,
} from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { fixturesDir, runtimeName, writeMarkdown } from "./_runner.ts";
import { ensureSyntheticModel, syntheticTensors } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { "size-mb": { type: "string" }, markdown: { type: "string" } },
});
const sizeMb = Number(values["size-mb"] ?? 330);

const POLICIES: [string, ConversionPolicy][] = [
  ["F32 (default)", {}],
  ["--requantize Q8_0", { requantize: "Q8_0" }],
  ["--requantize Q4_0", { requantize: "Q4_0" }],
];
const printed: string[] = [];
const out = (text: string) => {
  printed.push(text);
  process.stdout.write(text + "\n");
};
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

// 1. File to file on the bench model.
const model = ensureSyntheticModel(sizeMb);
const input = statSync(model).size;
out(`### Requantization, file to file (${runtimeName()})\n`);
out(`${model}: ${mb(input)} MB\n`);
out("| output | MB out | × input | seconds (best of 2) | × F32 time |");
out("| --- | ---: | ---: | ---: | ---: |");
let f32Seconds = 0;
for (const [label, policy] of POLICIES) {
  const target = `out/requant-bench.${label.replace(/\W+/g, "_")}.gguf`;
  let best = Infinity;
  let bytes = 0;
  for (let run = 0; run < 2; run++) {
    const start = performance.now();
    const result = await convertFile(model, target, { policy, force: true, onWarning: () => {} });
    best = Math.min(best, (performance.now() - start) / 1000);
    bytes = result.outputBytes;
  }
  rmSync(target);
  if (f32Seconds === 0) f32Seconds = best;
  out(
    `| ${label} | ${mb(bytes)} | ${(bytes / input).toFixed(2)} | ${best.toFixed(2)} | ${
      (best / f32Seconds).toFixed(2)
    } |`,
  );
}

// 2. The 8B-class layout, planned from its header.
const layout = syntheticTensors({ embd: 4096, ff: 12288, vocab: 151936, layers: 36, seed: 1 });
const header = encodeGgufHeader({
  alignment: 32,
  metadata: [{ key: "general.architecture", type: GgufValueType.STRING, value: "llama" }],
  tensors: layout,
});
const sparse = "out/layout-8b.gguf";
if (!existsSync(sparse)) {
  const fd = openSync(sparse, "w");
  writeSync(fd, header.bytes);
  ftruncateSync(fd, header.fileSize);
  closeSync(fd);
}
const file = await readGguf(sparse);
out(`\n8B-class Q4_K_M layout (${file.tensors.length} tensors): ${mb(header.fileSize)} MB\n`);
out("| output | MB out | × input |");
out("| --- | ---: | ---: |");
for (const [label, policy] of POLICIES) {
  const bytes = planConversion(file, policy).reduce((sum, p) => sum + p.nbytes, 0);
  out(`| ${label} | ${mb(bytes)} | ${(bytes / header.fileSize).toFixed(2)} |`);
}

// 3. Error of requantized weights, per source type, over the fixtures.
out("\nRequantization error against the exact float32 values (fixture weights):\n");
out("| source type | weights | RMS | Q8_0 RMSE | Q8_0 rel. | Q4_0 RMSE | Q4_0 rel. |");
out("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
const sums = new Map<string, { n: number; x2: number; q8: number; q4: number }>();
const gen = join(fixturesDir(), "gen");
for (const name of ["all-types", "kquants", "legacy", "iq-imatrix", "newtypes"]) {
  const path = join(gen, `${name}.gguf`);
  if (!existsSync(path)) continue;
  const converted = await convertGguf(path, {
    policy: { target: ["F32"] },
    onWarning: () => {},
  });
  for (const tensor of converted.tensors.values()) {
    if (tensor.typeName !== "F32" || tensor.shape[0] % 32 !== 0) continue;
    if (tensor.info.typeName === "F32") continue;
    const x = tensor.data;
    if (!x.every(Number.isFinite)) continue;
    const q8 = dequantize("Q8_0", quantize("Q8_0", x));
    const q4 = dequantize("Q4_0", quantize("Q4_0", x));
    const s = sums.get(tensor.info.typeName) ?? { n: 0, x2: 0, q8: 0, q4: 0 };
    for (let i = 0; i < x.length; i++) {
      s.x2 += x[i] * x[i];
      s.q8 += (q8[i] - x[i]) ** 2;
      s.q4 += (q4[i] - x[i]) ** 2;
    }
    s.n += x.length;
    sums.set(tensor.info.typeName, s);
  }
}
for (const [type, s] of [...sums].sort()) {
  const rms = Math.sqrt(s.x2 / s.n);
  const q8 = Math.sqrt(s.q8 / s.n);
  const q4 = Math.sqrt(s.q4 / s.n);
  out(
    `| ${type} | ${s.n} | ${rms.toPrecision(3)} | ${q8.toPrecision(3)} | ${
      (q8 / rms * 100).toFixed(2)
    }% | ${q4.toPrecision(3)} | ${(q4 / rms * 100).toFixed(2)}% |`,
  );
}
if (values.markdown) writeMarkdown(values.markdown, "requantize", printed.join("\n"));
