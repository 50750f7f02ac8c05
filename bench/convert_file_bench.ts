/**
 * File-to-file conversion through the CLI on Deno and Bun: peak RSS (VmHWM, as the
 * closing summary reports it) and elapsed time, for synthetic models of given sizes
 * (generated on first use into out/).
 *
 *   deno run -A bench/convert_file_bench.ts [--size-mb 330,3300]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { configForSize, writeSyntheticModel } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { "size-mb": { type: "string" } },
});
const sizes = (values["size-mb"] ?? "330").split(",").map(Number);
const bin = (
  name: string,
) => (existsSync(`node_modules/.bin/${name}`) ? `node_modules/.bin/${name}` : name);
const runtimes: [string, string[]][] = [
  ["deno", [bin("deno"), "run", "-A", "convert.ts"]],
  ["bun", [bin("bun"), "convert.ts"]],
];
mkdirSync("out", { recursive: true });
const lines = [
  "| model | runtime | input MB | output MB | peak RSS MiB | seconds | output MB/s |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
];
for (const sizeMb of sizes) {
  const model = `out/bench-${sizeMb}.gguf`;
  if (!existsSync(model)) writeSyntheticModel(model, configForSize(sizeMb));
  for (const [name, command] of runtimes) {
    const output = `out/bench-${sizeMb}.converted.gguf`;
    const start = performance.now();
    const run = spawnSync(command[0], [...command.slice(1), model, "-o", output, "--force"], {
      encoding: "utf8",
    });
    const seconds = (performance.now() - start) / 1000;
    if (run.status !== 0) throw new Error(`${name} failed: ${run.stderr}`);
    const peak = run.stderr.match(/peak memory ([\d.]+) (MB|GB)/)!;
    const peakBytes = Number(peak[1]) * (peak[2] === "GB" ? 1e9 : 1e6);
    const inMb = statSync(model).size / 1e6;
    const outMb = statSync(output).size / 1e6;
    lines.push(
      `| ${model} | ${name} | ${inMb.toFixed(0)} | ${outMb.toFixed(0)} | ${
        (peakBytes / 2 ** 20).toFixed(0)
      } | ${seconds.toFixed(1)} | ${(outMb / seconds).toFixed(0)} |`,
    );
    rmSync(output);
  }
}
process.stdout.write(lines.join("\n") + "\n");
