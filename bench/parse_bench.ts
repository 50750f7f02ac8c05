/**
 * Parse speed of header, metadata and tensor index for the metadata-heavy vocab files,
 * beside @huggingface/gguf reading the same local files in the same run.
 *
 *   deno run -A bench/parse_bench.ts [--markdown docs/performance.md]
 *   bun bench/parse_bench.ts [--markdown docs/performance.md]
 */
import { gguf } from "@huggingface/gguf";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { readGguf } from "../mod.ts";
import {
  type BenchResult,
  fixturesDir,
  measure,
  report,
  runtimeId,
  writeMarkdown,
} from "./_runner.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { markdown: { type: "string" } },
});

const FILES = ["ggml-vocab-gpt-2.gguf", "ggml-vocab-falcon-v2.gguf"];
const results: BenchResult[] = [];
for (const name of FILES) {
  const path = `${fixturesDir()}/real/${name}`;
  const bytes = new Uint8Array(readFileSync(path));
  const size = bytes.length;
  results.push(
    await measure(`gguf-stream readGguf(path), mmap: ${name}`, size, () => readGguf(path)),
  );
  results.push(
    await measure(
      `gguf-stream readGguf(path), reads: ${name}`,
      size,
      () => readGguf(path, { access: "read" }),
    ),
  );
  results.push(await measure(`gguf-stream readGguf(bytes): ${name}`, size, () => readGguf(bytes)));
  results.push(
    await measure(
      `@huggingface/gguf gguf(path): ${name}`,
      size,
      () => gguf(path, { allowLocalFile: true }),
      {
        runs: 5,
        warmup: 1,
      },
    ),
  );
}
const table = report("Parse header + metadata + tensor index", results);
if (values.markdown) writeMarkdown(values.markdown, `parse-${runtimeId()}`, table);
