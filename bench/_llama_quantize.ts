/**
 * llama.cpp's own requantization (`llama_model_quantize`, what `llama-quantize
 * --allow-requantize` runs, on every core) as a floor for speed_bench.ts, through the Deno
 * FFI bindings of _llama_ffi.ts (node-llama-cpp's prebuilt libraries, fetched on first use
 * into out/llama-cpp/ with `npm pack`; nothing is added to package.json: they exist for one
 * platform only).
 *
 *   deno run -A bench/_llama_quantize.ts IN.gguf OUT.gguf F32|Q8_0|Q4_K_M|IQ4_XS|…
 *
 * Prints one JSON line {"ms": …}; or {"unavailable": "why"} and exits 0 where the library
 * cannot be had (another platform, no registry).
 */
import { Llama, LLAMA_FTYPES } from "./_llama_ffi.ts";

const [input, output, type] = Deno.args;
if (LLAMA_FTYPES[type] === undefined) {
  throw new Error(`usage: IN.gguf OUT.gguf ${Object.keys(LLAMA_FTYPES).join("|")}`);
}
const llama = Llama.open(true);
if ("unavailable" in llama) {
  console.log(JSON.stringify({ unavailable: llama.unavailable }));
  Deno.exit(0);
}
const ms = llama.quantize(input, output, type, 0);
llama.close();
console.log(JSON.stringify({ ms }));
