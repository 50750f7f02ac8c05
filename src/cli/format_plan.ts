/**
 * Human-readable and JSON renderings of a header and its conversion plan, for the CLI.
 *
 * @module
 */
import { formatInteger } from "../model/errors.ts";
import { type GgufJson, ggufToJson, type JsonTensor, metadataValueToJson } from "./gguf_json.ts";
import type { TensorPlan } from "../convert/plan.ts";
import { type GgufFile, GgufValueType } from "../model/gguf_file.ts";

/** A tensor in the plan's JSON: the index entry plus what conversion does with it. */
export interface JsonPlannedTensor extends JsonTensor {
  strategy: string;
  output_type: string;
  output_bytes: number;
}

/** The `--plan --json` document. */
export interface PlanJson extends Omit<GgufJson, "tensors"> {
  file: string;
  tensors: JsonPlannedTensor[];
  totals: {
    tensors: number;
    input_bytes: number;
    output_bytes: number;
    by_strategy: Record<string, { tensors: number; input_bytes: number; output_bytes: number }>;
  };
}

/**
 * Builds the `--plan --json` document: the header in the fixtures' schema, each tensor's
 * strategy, output type and output size, and totals.
 *
 * @example
 * ```ts
 * import { planConversion, planToJson, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const file = await readGguf(bytes);
 * assert.equal(planToJson("x.gguf", file, planConversion(file)).totals.tensors, 0);
 * ```
 */
export function planToJson(name: string, file: GgufFile, plan: TensorPlan[]): PlanJson {
  const header = ggufToJson(file);
  const byStrategy: PlanJson["totals"]["by_strategy"] = {};
  let input = 0;
  let output = 0;
  const tensors = header.tensors.map((tensor, i) => {
    const entry = plan[i];
    const totals = byStrategy[entry.strategy] ??= { tensors: 0, input_bytes: 0, output_bytes: 0 };
    totals.tensors++;
    totals.input_bytes += entry.info.nbytes;
    totals.output_bytes += entry.outputBytes;
    input += entry.info.nbytes;
    output += entry.outputBytes;
    return {
      ...tensor,
      strategy: entry.strategy,
      output_type: entry.outputType,
      output_bytes: entry.outputBytes,
    };
  });
  return {
    file: name,
    ...header,
    tensors,
    totals: {
      tensors: tensors.length,
      input_bytes: input,
      output_bytes: output,
      by_strategy: byStrategy,
    },
  };
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** The shortest decimal that reads back as the same float32. */
function float32Text(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

function previewValue(file: GgufFile, key: string): string {
  const entry = file.metadata.get(key)!;
  if (entry.type === GgufValueType.FLOAT32) return float32Text(entry.value as number);
  const json = metadataValueToJson(entry.type, entry.value);
  if ("elem" in json) return `[${json.elem} x ${formatInteger(json.len)}]`;
  const text = JSON.stringify(json.value);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

/**
 * Renders the plan as text: header facts, metadata, one line per tensor, totals. `parts`
 * describes a split model (its part count and total size).
 *
 * @example
 * ```ts
 * import { formatPlan, planConversion, readGguf } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const file = await readGguf(bytes);
 * assert.match(formatPlan("x.gguf", file, planConversion(file)), /GGUF v3, little-endian/);
 * ```
 */
export function formatPlan(
  name: string,
  file: GgufFile,
  plan: TensorPlan[],
  parts?: { count: number; bytes: number },
): string {
  const lines: string[] = [];
  const size = parts !== undefined && parts.count > 1
    ? `, ${parts.count} parts, ${formatInteger(parts.bytes)} bytes`
    : file.fileSize === undefined
    ? ""
    : `, ${formatInteger(file.fileSize)} bytes`;
  lines.push(
    `${name}: GGUF v${file.version}, ${
      file.littleEndian ? "little" : "big"
    }-endian, alignment ${file.alignment}, ` +
      `data at byte ${formatInteger(file.dataOffset)}${size}`,
  );
  lines.push(`metadata: ${file.metadata.size} entries`);
  const keyWidth = Math.min(48, Math.max(0, ...[...file.metadata.keys()].map((k) => k.length)));
  for (const key of file.metadata.keys()) {
    lines.push(`  ${pad(key, keyWidth)}  ${previewValue(file, key)}`);
  }
  if (file.duplicateKeys.length > 0) {
    lines.push(
      `  (${file.duplicateKeys.length} repeated keys ignored: ${
        file.duplicateKeys.map((d) => d.key).join(", ")
      })`,
    );
  }
  lines.push(`tensors: ${plan.length}`);
  if (plan.length > 0) {
    const nameWidth = Math.min(40, Math.max(4, ...plan.map((p) => p.info.name.length)));
    const shapeOf = (p: TensorPlan) => p.info.shape.join(" x ");
    const shapeWidth = Math.max(5, ...plan.map((p) => shapeOf(p).length));
    lines.push(
      `  ${pad("name", nameWidth)}  ${pad("type", 7)}  ${pad("shape", shapeWidth)}  ${
        pad("bytes", 13, true)
      }` +
        `  ${pad("strategy", 12)}  ${pad("out", 7)}  ${pad("out bytes", 13, true)}`,
    );
    for (const p of plan) {
      lines.push(
        `  ${pad(p.info.name, nameWidth)}  ${pad(p.info.typeName, 7)}  ${
          pad(shapeOf(p), shapeWidth)
        }  ` +
          `${pad(formatInteger(p.info.nbytes), 13, true)}  ${
            pad(p.strategy + (p.fallback ? "!" : ""), 12)
          }  ` +
          `${pad(p.outputType, 7)}  ${pad(formatInteger(p.outputBytes), 13, true)}`,
      );
    }
  }
  const json = planToJson(name, file, plan);
  for (const [strategy, t] of Object.entries(json.totals.by_strategy)) {
    lines.push(
      `${pad(strategy, 11)} ${pad(String(t.tensors), 6, true)} tensors  ${
        pad(formatInteger(t.input_bytes), 15, true)
      } -> ${pad(formatInteger(t.output_bytes), 15, true)} bytes`,
    );
  }
  lines.push(
    `${pad("total", 11)} ${pad(String(json.totals.tensors), 6, true)} tensors  ${
      pad(formatInteger(json.totals.input_bytes), 15, true)
    } -> ${pad(formatInteger(json.totals.output_bytes), 15, true)} bytes`,
  );
  if (plan.some((p) => p.fallback)) {
    lines.push("(! = no rule covers this type; passed through unchanged)");
  }
  return lines.join("\n") + "\n";
}
