/**
 * The README's error/size summary, taken from the full table that
 * `bench/error_table_bench.ts --markdown docs/requantization.md` measured (nothing is
 * measured here): per source, the outputs users choose between, as bits per weight and
 * relative RMS error against the source's exact values.
 *
 *   deno run -A bench/error_summary.ts [--from docs/requantization.md] [--into README.md]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { binary } from "./_runner.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    from: { type: "string", default: "docs/requantization.md" },
    into: { type: "string", default: "README.md" },
  },
});
const text = readFileSync(values.from!, "utf8");
const measured = text.match(/Measured (\d{4}-\d{2}-\d{2}) with\s+`([^`]+)`/);
if (measured === null) throw new Error(`${values.from} holds no measured table`);

/** Cells of each table row, by source and output. */
const rows = new Map<string, string[]>();
for (const line of text.split("\n")) {
  if (!line.startsWith("| ") || line.startsWith("| source") || /^\| -+ \|/.test(line)) continue;
  const cells = line.slice(2, -2).split(" | ").map((cell) => cell.trim());
  rows.set(`${cells[0]} ${cells[1]}`, cells);
}

/** The columns: [header, output as the full table names it]. */
const COLUMNS: [string, (source: string) => string][] = [
  ["its own error vs F32", () => "(source itself)"],
  ["→ Q4_0", () => "--requantize Q4_0"],
  ["→ Q8_0", () => "--requantize Q8_0"],
  ["→ Q4_K", () => "--requantize Q4_K"],
  ["→ Q6_K", () => "--requantize Q6_K"],
  ["→ Q4_1 (ggml)", () => "--requantize Q4_1 --method reference"],
  ["transcoded", (s) => (s === "Q4_K_M" ? "transcode Q4_K → Q4_1" : "transcode IQ4_XS → Q8_0")],
  ["`--for candle`", () => "--for candle"],
  ["`--for mlx`", () => "--for mlx"],
  ["`--for q4q8`", () => "--for q4q8"],
  ["`--requantize auto`", () => "--requantize auto"],
];

const lines = [
  `| source | ${COLUMNS.map(([header]) => header).join(" | ")} |`,
  `| --- | ${COLUMNS.map(() => "---").join(" | ")} |`,
];
for (const source of ["Q4_K_M", "IQ4_XS"]) {
  const cells = COLUMNS.map(([, output]) => {
    const name = output(source);
    const row = rows.get(`${source} ${name}`) ??
      (name.endsWith("--method reference")
        ? rows.get(`${source} ${name.replace(" --method reference", "")}`)
        : undefined);
    if (row === undefined) return "—";
    // Columns: source, output, bits/weight, MB, error vs source, vs F32 original, …
    const error = name === "(source itself)" ? row[5] : row[4];
    const label = name.startsWith("transcode") ? `${name.slice(10)}: ` : "";
    return `${label}${error} at ${row[2]}`;
  });
  lines.push(`| ${source} | ${cells.join(" | ")} |`);
}

const begin = "<!-- error-summary:begin -->";
const end = "<!-- error-summary:end -->";
const block = [
  begin,
  "",
  `Relative RMS error added to the source's exact values, at bits per weight (a seeded 46 M-parameter llama that llama.cpp quantized itself). Taken by \`deno run -A bench/error_summary.ts\` from the table \`${
    measured[2]
  }\` measured on ${
    measured[1]
  } ([docs/requantization.md](docs/requantization.md), with llama.cpp's logits):`,
  "",
  ...lines,
  "",
  end,
].join("\n");
const readme = readFileSync(values.into!, "utf8");
const from = readme.indexOf(begin);
const to = readme.indexOf(end, from);
if (from < 0 || to < 0) throw new Error(`${values.into} has no ${begin} … ${end} markers`);
writeFileSync(values.into!, readme.slice(0, from) + block + readme.slice(to + end.length));
spawnSync(binary("deno"), ["fmt", "--quiet", values.into!], { stdio: "ignore" });
console.log(`wrote the error summary into ${values.into}`);
