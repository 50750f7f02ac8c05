/**
 * Dequantization speed per type in million weights per second, beside
 * `Float32Array.prototype.fill` on the same warm output (the output-bandwidth floor).
 *
 *   deno run -A bench/dequant_bench.ts [--markdown docs/performance.md]
 *   bun bench/dequant_bench.ts [--markdown docs/performance.md]
 */
import { dequantize, GGML_TYPES } from "../mod.ts";
import { dequantizerOf } from "../kernels.ts";
import { parseArgs } from "node:util";
import { randomBlocks } from "./_blocks.ts";
import { type BenchResult, measure, report, runtimeId, writeMarkdown } from "./_runner.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { markdown: { type: "string" } },
});
const WEIGHTS = 1 << 22; // 4 Mi weights: 16 MiB of float32 output
const output = new Float32Array(WEIGHTS);
const results: BenchResult[] = [];
const fill = await measure("Float32Array.fill (floor)", WEIGHTS, () => output.fill(1.5), {
  runs: 21,
});
results.push(fill);
for (const traits of GGML_TYPES.filter((t) => dequantizerOf(t) !== undefined)) {
  const src = randomBlocks(traits.name, WEIGHTS);
  results.push(
    await measure(traits.name, WEIGHTS, () => dequantize(traits.id, src, output), { runs: 11 }),
  );
}
const table = report("Dequantize 4 Mi weights into a warm Float32Array", results, "M/s");
const lines = results.slice(1).map((r) => `${r.name} ${(fill.medianMs / r.medianMs).toFixed(2)}x`);
const relative = `relative to fill: ${lines.join(", ")}`;
process.stdout.write(relative + "\n");
if (values.markdown) {
  writeMarkdown(values.markdown, `dequant-${runtimeId()}`, `${table}\n\n${relative}`);
}
