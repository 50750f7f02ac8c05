/**
 * Conversion through the CLI on Deno and Bun, file to file (`IN -o OUT`) and pipe to pipe
 * (`- -o - < IN > OUT`): peak RSS (as the closing summary reports it) and elapsed time, for
 * synthetic models of given sizes (generated on first use into out/), each beside its floor
 * measured in the same run: `dd conv=fdatasync` writing as many bytes (file to file) and
 * `cat` of the output (pipe to pipe).
 *
 *   deno run -A bench/convert_file_bench.ts [--size-mb 330,3300]
 */
import { spawnSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { runtimeCommands } from "./_runner.ts";
import { ensureSyntheticModel } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { "size-mb": { type: "string" } },
});
const sizes = (values["size-mb"] ?? "330").split(",").map(Number);
const runtimes = runtimeCommands("convert.ts");
const lines = [
  "| model | runtime | way | input MB | output MB | peak RSS MiB | seconds | output MB/s | floor s | × floor |",
  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** Seconds `dd` takes to write `bytes` and flush them, or `cat` to copy a file through pipes. */
function floorSeconds(way: string, path: string, bytes: number): number {
  const start = performance.now();
  const command = way === "file"
    ? `dd if=/dev/zero of=${quote(path + ".floor")} bs=4M count=${
      Math.ceil(bytes / (4 << 20))
    } conv=fdatasync status=none`
    : `cat < ${quote(path)} | cat > ${quote(path + ".floor")}`;
  const run = spawnSync("bash", ["-c", command], { encoding: "utf8" });
  const seconds = (performance.now() - start) / 1000;
  rmSync(path + ".floor", { force: true });
  if (run.status !== 0) throw new Error(`floor failed: ${run.stderr}`);
  return seconds;
}
for (const sizeMb of sizes) {
  const model = ensureSyntheticModel(sizeMb);
  for (const [name, command] of runtimes) {
    for (const way of ["file", "pipe"]) {
      const output = `out/bench-${sizeMb}.converted.gguf`;
      const start = performance.now();
      const run = way === "file"
        ? spawnSync(command[0], [...command.slice(1), model, "-o", output, "--force"], {
          encoding: "utf8",
        })
        : spawnSync("bash", [
          "-c",
          `${command.map(quote).join(" ")} - -o - < ${quote(model)} > ${quote(output)}`,
        ], {
          encoding: "utf8",
        });
      const seconds = (performance.now() - start) / 1000;
      if (run.status !== 0) throw new Error(`${name} ${way} failed: ${run.stderr}`);
      const peak = run.stderr.match(/peak memory ([\d.]+) (MB|GB)/)!;
      const peakBytes = Number(peak[1]) * (peak[2] === "GB" ? 1e9 : 1e6);
      const inMb = statSync(model).size / 1e6;
      const outMb = statSync(output).size / 1e6;
      const floor = floorSeconds(way, output, statSync(output).size);
      lines.push(
        `| ${model} | ${name} | ${way === "file" ? "IN -o OUT" : "- -o - (pipes)"} | ${
          inMb.toFixed(0)
        } | ${outMb.toFixed(0)} | ${(peakBytes / 2 ** 20).toFixed(0)} | ${seconds.toFixed(1)} | ${
          (outMb / seconds).toFixed(0)
        } | ${floor.toFixed(1)} | ${(seconds / floor).toFixed(2)} |`,
      );
      rmSync(output);
    }
  }
}
process.stdout.write(lines.join("\n") + "\n");
