/**
 * Requantization speed beside llama.cpp's own: the seeded 46 M-parameter F32 llama
 * (`_source_llama.ts`) requantized into Q4_K, Q5_K, Q6_K, IQ4_XS, Q8_0 and Q4_0, file to
 * file, by gguf-stream and by `llama_model_quantize` (`llama-quantize --allow-requantize
 * --pure`, node-llama-cpp's prebuilt libraries) with the same number of threads, in turns,
 * `sync` before each run; and transcoding a Q4_0 file into Q8_0 beside keeping its bytes.
 * 1-D tensors (norms) stay F32 on both sides.
 *
 *   deno run -A bench/requant_speed_bench.ts [--rounds 3] [--threads 2] [--types Q4_K,...]
 *       [--markdown docs/performance.md]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { convertFile } from "../mod.ts";
import type { ConversionPolicy } from "../mod.ts";
import { Llama } from "./_llama_ffi.ts";
import { writeSourceLlama } from "./_source_llama.ts";
import { writeMarkdown } from "./_runner.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rounds: { type: "string", default: "3" },
    threads: { type: "string", default: "2" },
    types: { type: "string", default: "Q4_K,Q5_K,Q6_K,IQ4_XS,Q8_0,Q4_0" },
    markdown: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const types = values.types!.split(",");
/** The llama ftype whose pure form writes each type. */
const FTYPE: Record<string, string> = {
  Q4_K: "Q4_K_M",
  Q5_K: "Q5_K_M",
  Q6_K: "Q6_K",
  IQ4_XS: "IQ4_XS",
  Q8_0: "Q8_0",
  Q4_0: "Q4_0",
};

const llama = Llama.open(true);
if ("unavailable" in llama) {
  console.log(`llama.cpp unavailable: ${llama.unavailable}`);
  Deno.exit(0);
}
const dir = "out/requant-speed";
mkdirSync(dir, { recursive: true });
const source = `${dir}/source-f32.gguf`;
if (!existsSync(source)) await writeSourceLlama(source);
const out = `${dir}/out.gguf`;

const sync = () => execFileSync("sync");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timed = async (run: () => unknown | Promise<unknown>) => {
  rmSync(out, { force: true });
  sync();
  const start = performance.now();
  await run();
  return performance.now() - start;
};
const ours = (input: string, policy: ConversionPolicy) => () =>
  convertFile(input, out, { policy, threads, force: true });
/** Requantize every 2-D tensor into `type`; 1-D tensors stay F32, as llama.cpp leaves them. */
const into = (type: string): ConversionPolicy => ({
  target: [type],
  requantize: type as ConversionPolicy["requantize"],
  method: "reference",
  tensor: (t) => (t.shape.length === 1 ? "keep" : undefined),
});

const rows: string[] = [];
const line = (cells: (string | number)[]) => rows.push(`| ${cells.join(" | ")} |`);
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const spread = (xs: number[]) => `${seconds(Math.min(...xs))}–${seconds(Math.max(...xs))}`;
const sizeMb = (path: string) => (statSync(path).size / 2 ** 20).toFixed(0);

console.log(`source ${source}: ${sizeMb(source)} MiB, ${threads} threads, ${rounds} rounds`);
rows.push(
  "| output | gguf-stream, s (median; spread) | llama_model_quantize, s | ÷ | output MiB |",
  "| --- | ---: | ---: | ---: | ---: |",
);
for (const type of types) {
  const mine: number[] = [];
  const theirs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    theirs.push(await timed(() => llama.quantize(source, out, FTYPE[type], threads, true)));
    mine.push(await timed(ours(source, into(type))));
  }
  const ratio = median(mine) / median(theirs);
  line([
    type,
    `${seconds(median(mine))} (${spread(mine)})`,
    `${seconds(median(theirs))} (${spread(theirs)})`,
    ratio.toFixed(2),
    sizeMb(out),
  ]);
  console.log(rows.at(-1));
}

// Transcoding Q4_0 → Q8_0 beside keeping the Q4_0 bytes (a copy), both by gguf-stream, and
// beside keeping a Q8_0 file's bytes: what writing an output of the transcoded size costs.
const q4 = `${dir}/source-q4_0.gguf`;
if (!existsSync(q4)) llama.quantize(source, q4, "Q4_0", threads, true);
const q8 = `${dir}/source-q8_0.gguf`;
if (!existsSync(q8)) llama.quantize(source, q8, "Q8_0", threads, true);
const keep: number[] = [];
const keepQ8: number[] = [];
const transcode: number[] = [];
for (let round = 0; round < rounds; round++) {
  keep.push(await timed(ours(q4, { target: ["Q4_0", "F32"] })));
  transcode.push(
    await timed(ours(q4, { target: ["Q8_0", "F32"], requantize: "Q8_0", method: "best" })),
  );
  keepQ8.push(await timed(ours(q8, { target: ["Q8_0", "F32"] })));
}
rows.push(
  "",
  "| file → file | gguf-stream, s (median; spread) | ÷ keeping the Q4_0 bytes | output MiB |",
  "| --- | ---: | ---: | ---: |",
  `| Q4_0, kept (a copy) | ${seconds(median(keep))} (${spread(keep)}) | 1.00 | ${sizeMb(q4)} |`,
  `| Q4_0, transcoded → Q8_0 | ${seconds(median(transcode))} (${spread(transcode)}) | ${
    (median(transcode) / median(keep)).toFixed(2)
  } | ${sizeMb(q8)} |`,
  `| Q8_0, kept (a copy of the transcoded size) | ${seconds(median(keepQ8))} (${
    spread(keepQ8)
  }) | ${(median(keepQ8) / median(keep)).toFixed(2)} | ${sizeMb(q8)} |`,
);
console.log(rows.slice(-2).join("\n"));
rmSync(out, { force: true });
if (values.markdown !== undefined) {
  writeMarkdown(values.markdown, "requant-speed", rows.join("\n"));
}
