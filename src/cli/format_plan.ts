/**
 * Human-readable and JSON renderings of a header and its conversion plan, for the CLI.
 *
 * @module
 */
import { formatInteger } from "../model/errors.ts";
import { type GgufJson, ggufToJson, type JsonTensor } from "./gguf_json.ts";
import { modelLine, previewValue } from "./inspect.ts";
import type { TensorPlan } from "../model/conversion.ts";
import { fileTypeName } from "../model/file_type.ts";
import type { GgufFile } from "../model/gguf_file.ts";
import { escapeText } from "../model/escape_text.ts";

/** A tensor in the plan's JSON: the index entry plus what conversion does with it. */
export interface JsonPlannedTensor extends JsonTensor {
  action: string;
  output_type: string;
  output_bytes: number;
  reason: string;
  /** With `--requantize auto`: the relative RMS error measured for the chosen type. */
  error?: number;
}

/** Totals of a group of tensors. */
export interface JsonTotals {
  tensors: number;
  input_bytes: number;
  output_bytes: number;
}

/** The `--plan --json` document. */
export interface PlanJson extends Omit<GgufJson, "tensors"> {
  file: string;
  tensors: JsonPlannedTensor[];
  totals: JsonTotals & {
    by_action: Record<string, JsonTotals>;
    /** Per output type, with its share of the output bytes (0–1). */
    by_output_type: Record<string, JsonTotals & { share: number }>;
    /** Bits per weight of the input's and the output's tensor data. */
    bits_per_weight_in: number;
    bits_per_weight_out: number;
  };
}

/**
 * Builds the `--plan --json` document: the header in the fixtures' schema, each tensor's
 * action, output type, output size and reason, and totals before and after.
 *
 * @example
 * ```ts
 * import { planToJson } from "./format_plan.ts";
 * import { planConversion, readGguf } from "gguf-stream";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array(24);
 * bytes.set([0x47, 0x47, 0x55, 0x46, 3]);
 * const file = await readGguf(bytes);
 * assert.equal(planToJson("x.gguf", file, planConversion(file)).totals.tensors, 0);
 * ```
 */
export function planToJson(name: string, file: GgufFile, plan: TensorPlan[]): PlanJson {
  const header = ggufToJson(file);
  const byAction: Record<string, JsonTotals> = {};
  const byType: Record<string, JsonTotals & { share: number }> = {};
  const all: JsonTotals = { tensors: 0, input_bytes: 0, output_bytes: 0 };
  let weights = 0;
  const add = (totals: JsonTotals, entry: TensorPlan) => {
    totals.tensors++;
    totals.input_bytes += entry.info.nbytes;
    totals.output_bytes += entry.nbytes;
  };
  const tensors = header.tensors.map((tensor, i) => {
    const entry = plan[i];
    add(byAction[entry.action] ??= { tensors: 0, input_bytes: 0, output_bytes: 0 }, entry);
    add(
      byType[entry.typeName] ??= { tensors: 0, input_bytes: 0, output_bytes: 0, share: 0 },
      entry,
    );
    add(all, entry);
    const planned: JsonPlannedTensor = {
      ...tensor,
      action: entry.action,
      output_type: entry.typeName,
      output_bytes: entry.nbytes,
      reason: entry.reason,
    };
    if (entry.error !== undefined) planned.error = entry.error;
    weights += entry.info.elements;
    return planned;
  });
  for (const totals of Object.values(byType)) {
    totals.share = all.output_bytes === 0 ? 0 : totals.output_bytes / all.output_bytes;
  }
  return {
    file: name,
    ...header,
    tensors,
    totals: {
      ...all,
      by_action: byAction,
      by_output_type: byType,
      bits_per_weight_in: weights === 0 ? 0 : (all.input_bytes * 8) / weights,
      bits_per_weight_out: weights === 0 ? 0 : (all.output_bytes * 8) / weights,
    },
  };
}

/** The largest `measure(item)`, without spreading (the count may be in the millions). */
function maxLength<T>(items: Iterable<T>, measure: (item: T) => number): number {
  let max = 0;
  for (const item of items) max = Math.max(max, measure(item));
  return max;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** A metadata value in one line: arrays with their first elements, file types named. */
function metadataPreview(file: GgufFile, key: string): string {
  const entry = file.metadata.get(key)!;
  const text = previewValue(entry.type, entry.value);
  if (key === "general.file_type" && typeof entry.value === "number") {
    const name = fileTypeName(entry.value);
    if (name !== undefined) return `${text} (${name})`;
  }
  return text;
}

/**
 * Renders the plan as text: header facts, the model line (architecture, name, file type,
 * parameter count), metadata (arrays with their first elements), one line per tensor,
 * totals. `parts` describes a split model (its part count and total size).
 *
 * @example
 * ```ts
 * import { formatPlan } from "./format_plan.ts";
 * import { planConversion, readGguf } from "gguf-stream";
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
    `${escapeText(name)}: GGUF v${file.version}, ${
      file.littleEndian ? "little" : "big"
    }-endian, alignment ${file.alignment}, ` +
      `data at byte ${formatInteger(file.dataOffset)}${size}`,
  );
  lines.push(modelLine(file));
  lines.push(`metadata: ${file.metadata.size} ${file.metadata.size === 1 ? "entry" : "entries"}`);
  // Names are the file's bytes: shown escaped, so none can act on the terminal.
  const keyWidth = Math.min(48, maxLength(file.metadata.keys(), (k) => escapeText(k).length));
  for (const key of file.metadata.keys()) {
    lines.push(`  ${pad(escapeText(key), keyWidth)}  ${metadataPreview(file, key)}`);
  }
  if (file.duplicateKeys.length > 0) {
    lines.push(
      `  (${file.duplicateKeys.length} repeated keys ignored: ${
        file.duplicateKeys.map((d) => escapeText(d.key)).join(", ")
      })`,
    );
  }
  lines.push(`tensors: ${plan.length}`);
  if (plan.length > 0) {
    const nameWidth = Math.min(
      40,
      Math.max(4, maxLength(plan, (p) => escapeText(p.info.name).length)),
    );
    const shapeOf = (p: TensorPlan) => p.info.shape.join(" x ");
    const shapeWidth = Math.max(5, maxLength(plan, (p) => shapeOf(p).length));
    lines.push(
      `  ${pad("name", nameWidth)}  ${pad("type", 7)}  ${pad("shape", shapeWidth)}  ${
        pad("bytes", 13, true)
      }  ${pad("action", 11)}  ${pad("out", 7)}  ${pad("out bytes", 13, true)}  why`,
    );
    for (const p of plan) {
      lines.push(
        `  ${pad(escapeText(p.info.name), nameWidth)}  ${pad(p.info.typeName, 7)}  ${
          pad(shapeOf(p), shapeWidth)
        }  ${pad(formatInteger(p.info.nbytes), 13, true)}  ${
          pad(p.action + (p.unsupported ? "!" : ""), 11)
        }  ${pad(p.typeName, 7)}  ${pad(formatInteger(p.nbytes), 13, true)}  ${p.reason}`,
      );
    }
  }
  const { totals } = planToJson(name, file, plan);
  const row = (label: string, t: JsonTotals, share?: number) =>
    `${pad(label, 11)} ${pad(formatInteger(t.tensors), 9, true)} ${
      t.tensors === 1 ? "tensor " : "tensors"
    }  ${pad(formatInteger(t.input_bytes), 17, true)} -> ${
      pad(formatInteger(t.output_bytes), 17, true)
    } bytes${share === undefined ? "" : `  ${(share * 100).toFixed(1).padStart(5)}% of output`}`;
  for (const [action, t] of Object.entries(totals.by_action)) lines.push(row(action, t));
  for (const [type, t] of Object.entries(totals.by_output_type)) {
    lines.push(row(`-> ${type}`, t, t.share));
  }
  lines.push(row("total", totals));
  lines.push(
    `bits per weight: ${totals.bits_per_weight_in.toFixed(2)} -> ${
      totals.bits_per_weight_out.toFixed(2)
    }`,
  );
  if (plan.some((p) => p.unsupported)) {
    lines.push("(! = no kernel for this type: kept as it is, outside the target)");
  }
  return lines.join("\n") + "\n";
}
