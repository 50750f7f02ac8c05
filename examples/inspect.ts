/// <reference lib="dom" />
/**
 * The GGUF inspector page (`examples/inspect.html`): opens the chosen file as a `Blob` —
 * read by slices, in place, never uploaded — and shows its header, metadata, tensors with
 * the conversion plan, and a chosen tensor's first rows.
 *
 * Bundle it with the library for the browser as a classic script, then open
 * `examples/inspect.html` from disk or from any static server of the repository (a classic
 * script, unlike a module, also loads from `file:`):
 *
 * ```sh
 * bun build examples/inspect.ts --target browser --format iife --outfile out/inspect.js
 * ```
 *
 * Until the bundle exists the page says how to build it.
 *
 * @module
 */
import {
  fileTypeName,
  type GgufArray,
  type GgufFile,
  type GgufValue,
  type ModelInfo,
  modelInfo,
  planConversion,
} from "../mod.ts";
import { formatInteger } from "../src/model/errors.ts";
import { type GgufModel, openGgufModel } from "../sources.ts";
// One file as it is: a part of a split model picked alone is shown alone (its split keys
// kept), since a picked file's siblings cannot be found by name here.
import { openModel } from "../src/open/open_model.ts";
import { readTensorRows } from "../kernels.ts";
// The CLI's own renderings, so the page prints values exactly as `--dump` and `--plan` do.
import { float32Text } from "../src/cli/float32_text.ts";
import { GGUF_VALUE_TYPE_NAMES as TYPE_NAMES } from "../src/model/gguf_file.ts";
import { escapeText } from "../src/model/escape_text.ts";

const FLOAT32 = 6;
const ARRAY = 9;
/** Values shown per row at most. */
const MAX_VALUES = 512;
/** Characters of a string value shown. */
const MAX_STRING = 300;
/** Rows shown at most (each of up to MAX_VALUES values). */
const MAX_ROWS = 100;

function $<T extends HTMLElement = HTMLElement>(selector: string): T {
  return document.querySelector<T>(selector)!;
}

/**
 * A scalar as JSON (strings quoted, so every character shows, and escaped as the CLI
 * prints them: no control character can make it display as another); FLOAT32 as its
 * shortest decimal.
 */
function scalarText(type: number, value: unknown, limit: number): string {
  if (type === FLOAT32) return float32Text(value as number);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = escapeText(JSON.stringify(value));
  return text.length > limit ? text.slice(0, limit - 2) + '…"' : text;
}

/** `[STRING x 32_000] ["<unk>", "<s>", …]`: the type, length and first elements. */
function arrayText(array: GgufArray, width = 90): string {
  const values = array.values as ArrayLike<unknown>;
  const shown: string[] = [];
  let used = 0;
  for (let i = 0; i < values.length; i++) {
    const nested = values[i] as GgufArray;
    const item = array.elementType === ARRAY
      ? `[${TYPE_NAMES[nested.elementType]} x ${formatInteger(nested.values.length)}]`
      : scalarText(array.elementType, values[i], 40);
    if (shown.length > 0 && used + item.length + 2 > width) break;
    shown.push(item);
    used += item.length + 2;
  }
  const more = shown.length < values.length ? ", …" : "";
  return `[${TYPE_NAMES[array.elementType]} x ${formatInteger(values.length)}] [${
    shown.join(", ")
  }${more}]`;
}

function formatParameters(count: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
  for (const [scale, unit] of units) {
    if (count >= scale) return `${Number((count / scale).toPrecision(3))} ${unit}`;
  }
  return String(count);
}

/** Adds a cell; text goes in as text, never as HTML (it comes from the file). */
function cell(row: HTMLTableRowElement, text: string, className?: string): void {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function setStatus(text: string, state: string): void {
  const status = $("#status");
  status.textContent = text;
  status.dataset.state = state;
}

let model: GgufModel | undefined;

function showSummary(name: string, size: number, header: GgufFile, info: ModelInfo): void {
  const fields: [string, string, string][] = [
    ["file", "File", name],
    ["size", "Size", `${formatInteger(size)} bytes`],
    ["version", "GGUF version", String(header.version)],
    ["byte-order", "Byte order", header.littleEndian ? "little-endian" : "big-endian"],
    ["alignment", "Alignment", String(header.alignment)],
    ["data-offset", "Data offset", formatInteger(header.dataOffset)],
    ["architecture", "Architecture", info.architecture ?? "—"],
    ["name", "Name", info.name ?? "—"],
    [
      "file-type",
      "File type",
      info.fileType === undefined ? "—" : `${info.fileTypeName ?? "unknown"} (${info.fileType})`,
    ],
    [
      "parameters",
      "Parameters",
      `${formatParameters(info.parameters)} (${formatInteger(info.parameters)})`,
    ],
    ["tensors", "Tensors", String(header.tensors.length)],
    ["metadata", "Metadata entries", String(header.metadata.size)],
  ];
  const list = $("#summary");
  list.replaceChildren();
  for (const [field, label, value] of fields) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = value;
    dd.dataset.field = field;
    div.append(dt, dd);
    list.append(div);
  }
}

function showMetadata(header: GgufFile): void {
  const body = $<HTMLTableSectionElement>("#metadata tbody");
  body.replaceChildren();
  for (const [key, entry] of header.metadata) {
    const row = body.insertRow();
    row.dataset.key = key;
    cell(row, escapeText(key), "mono");
    const array = entry.type === ARRAY ? entry.value as GgufArray : undefined;
    cell(row, array ? `ARRAY of ${TYPE_NAMES[array.elementType]}` : TYPE_NAMES[entry.type]);
    let text = array
      ? arrayText(array)
      : scalarText(entry.type, entry.value as GgufValue, MAX_STRING);
    if (key === "general.file_type" && typeof entry.value === "number") {
      text += ` (${fileTypeName(entry.value) ?? "unknown"})`;
    }
    cell(row, text, "value");
  }
  $("#metadata-count").textContent = `(${header.metadata.size} entries)`;
}

function showTensors(header: GgufFile): void {
  const plan = planConversion(header);
  const body = $<HTMLTableSectionElement>("#tensors tbody");
  body.replaceChildren();
  const select = $<HTMLSelectElement>("#tensor-select");
  select.replaceChildren();
  let inputBytes = 0;
  let outputBytes = 0;
  for (const entry of plan) {
    const t = entry.info;
    const row = body.insertRow();
    row.dataset.tensor = t.name;
    cell(row, escapeText(t.name), "mono");
    cell(row, t.typeName);
    cell(row, t.shape.join(" × "), "num");
    cell(row, formatInteger(t.nbytes), "num");
    cell(row, entry.action + (entry.unsupported ? " (no kernel)" : ""));
    cell(row, entry.typeName);
    cell(row, entry.reason);
    inputBytes += t.nbytes;
    outputBytes += entry.nbytes;
    const option = document.createElement("option");
    option.value = t.name;
    option.textContent = `${escapeText(t.name)} (${t.typeName})`;
    select.append(option);
  }
  $("#tensor-note").textContent = `(${plan.length} tensors, ${formatInteger(inputBytes)} bytes → ${
    formatInteger(outputBytes)
  } bytes after conversion)`;
}

/** Counts the calls of showRows(): only the latest may show its rows. */
let rowsShown = 0;

async function showRows(): Promise<void> {
  const call = ++rowsShown;
  const name = $<HTMLSelectElement>("#tensor-select").value;
  const view = $("#rows");
  if (model === undefined || !name) return;
  const info = model.tensors.find((t) => t.name === name)!;
  const rows = info.shape[0] === 0 ? 0 : info.elements / info.shape[0];
  const asked = Math.floor(Number($<HTMLInputElement>("#row-count").value)) || 1;
  const rowCount = Math.max(1, Math.min(rows, asked, MAX_ROWS));
  view.dataset.state = "loading";
  try {
    if (info.elements === 0) {
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = `${escapeText(name)} holds no values (shape ${info.shape.join(" × ")}).`;
      view.replaceChildren(note);
      view.dataset.state = "ready";
      view.dataset.tensor = name;
      return;
    }
    const values = await readTensorRows(model, name, { rowCount });
    // A later choice (another tensor, another count) has been shown, or is on its way.
    if (call !== rowsShown) return;
    const parts: HTMLElement[] = [];
    for (let r = 0; r < rowCount; r++) {
      const title = document.createElement("div");
      title.className = "row-title";
      const shown = Math.min(info.shape[0], MAX_VALUES);
      title.textContent = `row ${r} of ${formatInteger(rows)} (${
        formatInteger(info.shape[0])
      } values${shown < info.shape[0] ? `, the first ${shown} shown` : ""})`;
      const grid = document.createElement("div");
      grid.className = "values";
      grid.dataset.row = String(r);
      for (let i = 0; i < shown; i++) {
        const span = document.createElement("span");
        span.textContent = float32Text(values[r * info.shape[0] + i]);
        grid.append(span);
      }
      parts.push(title, grid);
    }
    if (asked > MAX_ROWS && rows > MAX_ROWS) {
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = `The first ${MAX_ROWS} rows are shown; gguf-stream --dump prints any.`;
      parts.push(note);
    }
    view.replaceChildren(...parts);
    view.dataset.state = "ready";
  } catch (error) {
    if (call !== rowsShown) return;
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = `Cannot show ${escapeText(name)}: ${escapeText((error as Error).message)}`;
    view.replaceChildren(note);
    view.dataset.state = "error";
  }
  view.dataset.tensor = name;
}

/**
 * For one part of a split model, what the page shows of it: that part's own tensors, the
 * first part's metadata only in the first part. Empty for a whole model.
 */
function splitNote(model: GgufModel): string {
  const count = model.metadata.get("split.count")?.value;
  const no = model.metadata.get("split.no")?.value;
  if (typeof count !== "number" || count <= 1 || typeof no !== "number") return "";
  return ` It is part ${no + 1} of a ${count}-part split model, shown alone: its own ${
    formatInteger(model.tensors.length)
  } tensors${
    no === 0 ? " and the model's metadata" : ""
  }. Pick all ${count} parts together to see the model whole.`;
}

/**
 * Opens the picked files: one file as it is, or several as the parts of one split model
 * (the first by name is the first part; the others are placed by their split keys).
 */
async function open(files: File[]): Promise<void> {
  await model?.close();
  model = undefined;
  $("#report").hidden = true;
  const [file, ...others] = [...files].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  );
  const name = others.length === 0
    ? file.name
    : `${file.name} and ${others.length} more part${others.length === 1 ? "" : "s"}`;
  const size = files.reduce((sum, f) => sum + f.size, 0);
  setStatus(`Reading ${name}…`, "loading");
  try {
    // A File is a Blob: read by slices, in place.
    model = others.length === 0
      ? await openModel(file, { oneFile: true })
      : await openGgufModel(file, { parts: others });
    const header = { ...model.parts[0].header, metadata: model.metadata, tensors: model.tensors };
    showSummary(name, size, header, modelInfo(header));
    showMetadata(header);
    showTensors(header);
    $("#report").hidden = false;
    // Start with the first tensor that has a float form.
    const first = model.tensors.find((t) => !/^(I8|I16|I32|I64|F64)$/.test(t.typeName));
    if (first) $<HTMLSelectElement>("#tensor-select").value = first.name;
    await showRows();
    const joined = model.parts.length > 1
      ? ` The ${model.parts.length} parts of a split model, shown as one.`
      : splitNote(model);
    setStatus(
      `${name}: ${formatInteger(size)} bytes, read in place (nothing uploaded).${joined}`,
      "ready",
    );
  } catch (error) {
    setStatus(`Cannot read ${name}: ${(error as Error).message}`, "error");
  }
}

setStatus("No file chosen.", "idle");
$<HTMLInputElement>("#file").addEventListener("change", (event) => {
  const files = [...(event.target as HTMLInputElement).files ?? []];
  if (files.length > 0) open(files);
});
$("#tensor-select").addEventListener("change", showRows);
$("#row-count").addEventListener("change", showRows);
