/**
 * One memory measurement, run in a fresh process by memory_bench.ts:
 *   <runtime> bench/_memory_case.ts stream|naive MODEL.gguf
 * Prints one JSON line: baseline RSS, peak RSS, final model bytes, elapsed ms.
 */
import { readFileSync } from "node:fs";
import { convertGguf, dequantize, readGguf } from "../mod.ts";
import { procStatus } from "./_runner.ts";

const [mode, path] = process.argv.slice(2);
const baseline = procStatus("VmRSS");
const start = performance.now();
let finalBytes = 0;
if (mode === "stream") {
  const model = await convertGguf(path, { onWarning: () => {} });
  for (const tensor of model.tensors.values()) finalBytes += tensor.data.byteLength;
} else {
  // The usual loader: read the file whole, then dequantize each tensor into new memory.
  const bytes = new Uint8Array(readFileSync(path));
  const header = await readGguf(bytes);
  const tensors = new Map<string, ArrayBufferView>();
  for (const t of header.tensors) {
    const raw = bytes.subarray(t.fileOffset, t.fileOffset + t.nbytes);
    const data = t.typeName.endsWith("_K") ? dequantize(t.type, raw) : raw.slice();
    tensors.set(t.name, data);
    finalBytes += data.byteLength;
  }
}
const ms = performance.now() - start;
process.stdout.write(
  JSON.stringify({ mode, baseline, peak: procStatus("VmHWM"), finalBytes, ms }) + "\n",
);
