/**
 * Peak memory of an in-memory conversion against the size of the final model, on Deno and
 * Bun, beside the naive way (read the file whole, then dequantize), each case in a fresh
 * process. Generates the ~330 MB synthetic model on first use.
 *
 *   deno run -A bench/memory_bench.ts [--model out/bench-330.gguf] [--size-mb 330]
 *     [--markdown docs/performance.md]
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { runtimeCommands, runtimeVersions, writeMarkdown } from "./_runner.ts";
import { ensureSyntheticModel } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    model: { type: "string" },
    "size-mb": { type: "string" },
    markdown: { type: "string" },
  },
});
const model = values.model ?? ensureSyntheticModel(Number(values["size-mb"] ?? 330));
const runtimes = runtimeCommands("bench/_memory_case.ts");
const MiB = 1024 * 1024;
const lines = [
  `### In-memory conversion of ${model}: peak RSS over baseline`,
  "",
  "| runtime | way | final model MiB | peak − baseline MiB | ratio | target (1.05 × final + 32 MiB) | seconds |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
];
for (const [name, command] of runtimes) {
  for (const mode of ["stream", "naive"]) {
    const run = spawnSync(command[0], [...command.slice(1), mode, model], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`${name} ${mode} failed: ${run.stderr}`);
    const r = JSON.parse(run.stdout.trim().split("\n").pop()!);
    const used = r.peak - r.baseline;
    const target = 1.05 * r.finalBytes + 32 * MiB;
    lines.push(
      `| ${name} | ${
        mode === "stream" ? "gguf-stream convertGguf()" : "naive: read whole, dequantize"
      } | ${(r.finalBytes / MiB).toFixed(0)} | ${(used / MiB).toFixed(0)} | ${
        (used / r.finalBytes).toFixed(3)
      } | ${used <= target ? "met" : "missed"} (${(target / MiB).toFixed(0)}) | ${
        (r.ms / 1000).toFixed(1)
      } |`,
    );
  }
}
process.stdout.write(lines.join("\n") + "\n");
if (values.markdown) {
  writeMarkdown(values.markdown, "memory", lines.join("\n"), { runtimes: runtimeVersions() });
}
