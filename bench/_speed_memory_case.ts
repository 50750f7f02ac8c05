/**
 * One in-memory measurement for speed_bench.ts, in a fresh process:
 *   <runtime> bench/_speed_memory_case.ts convert MODEL.gguf THREADS [--requantize Q8_0]
 *   <runtime> bench/_speed_memory_case.ts floor MODEL.gguf
 *   <runtime> bench/_speed_memory_case.ts floor2 MODEL.gguf
 * `convert` runs convertGguf(); `floor` allocates and fills as many bytes, tensor by
 * tensor, as the converted model holds (what any loader must at least do); `floor2` does
 * the same on two threads, every other tensor in a worker started beforehand, whose
 * buffers then move here (how much a second thread could gain at best). As in
 * `convertGguf()`, buffers this thread fills have their memory backed in one call first
 * where the platform can (`PLATFORM.prefault`), the worker's are left to fault page by
 * page. Prints one JSON line: elapsed ms, baseline and peak RSS, the final model's bytes.
 */
import { convertGguf, planConversion, readGguf } from "../mod.ts";
import { PLATFORM } from "../src/runtime/current.ts";
import { procStatus } from "./_runner.ts";

const [mode, path, threads, flag, type] = process.argv.slice(2);
const policy = flag === "--requantize" ? { requantize: type as "Q8_0" } : {};
let sizes: number[] = [];
if (mode === "floor" || mode === "floor2") {
  // The output sizes come from the plan: reading the header is not part of the floor.
  const header = await readGguf(path);
  sizes = planConversion(header, policy).map((entry) => entry.nbytes);
}
/** Allocates and fills each size; the buffers (run in the worker, from its source text). */
const fill = (list: number[]) =>
  list.map((size) => {
    const bytes = new Uint8Array(size);
    bytes.fill(1);
    return bytes.buffer;
  });
/** Allocates each size, backs its memory where the platform can, fills it. */
const fillHere = (list: number[]) =>
  list.map((size) => {
    const bytes = new Uint8Array(size);
    PLATFORM.prefault?.(bytes);
    bytes.fill(1);
    return bytes;
  });
let worker: Worker | undefined;
if (mode === "floor2") {
  const code = `const fill = ${fill.toString()};
onmessage = (e) => { const buffers = fill(e.data); postMessage(buffers, buffers); };`;
  worker = new Worker(`data:text/javascript,${encodeURIComponent(code)}`, { type: "module" });
  // Started and answering before the clock starts.
  await new Promise((resolve) => {
    worker!.onmessage = resolve;
    worker!.postMessage([]);
  });
}
const baseline = procStatus("VmRSS");
const start = performance.now();
let finalBytes = 0;
if (mode === "floor2") {
  const theirs = new Promise<ArrayBuffer[]>((resolve) => {
    worker!.onmessage = (event) => resolve(event.data);
    worker!.postMessage(sizes.filter((_, i) => i % 2 === 1));
  });
  const mine = fillHere(sizes.filter((_, i) => i % 2 === 0));
  for (const buffer of [...mine, ...await theirs]) finalBytes += buffer.byteLength;
  worker!.terminate();
} else if (mode === "convert") {
  const count = threads === "default" ? undefined : Number(threads);
  const model = await convertGguf(path, { threads: count, policy, onWarning() {} });
  for (const tensor of model.tensors.values()) finalBytes += tensor.data.byteLength;
} else {
  const kept = fillHere(sizes);
  for (const bytes of kept) finalBytes += bytes.byteLength;
}
const ms = performance.now() - start;
process.stdout.write(
  JSON.stringify({ ms, baseline, peak: procStatus("VmHWM"), finalBytes }) + "\n",
);
