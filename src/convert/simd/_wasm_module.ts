/**
 * Compiling the project's WebAssembly SIMD modules, shared by the dequantizers, the K-quant
 * quantizers and the transcoders: each module ships as base64 text (`_*_wasm.ts`, written
 * by asm/build.ts) and compiles only where the engine validates its SIMD instructions and
 * allows compiling code at run time.
 *
 * @module
 */

/** The bytes of base64 `text`. */
function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Compiles a module given as base64; `null` where it cannot run: no `WebAssembly` (some
 * embedders), no SIMD (the module does not validate), or compiling forbidden (a content
 * security policy, Cloudflare Workers). Callers fall back to the portable kernels then.
 *
 * @param base64 The module's bytes as base64.
 * @returns The compiled module, or `null`.
 *
 * @example
 * ```ts
 * import { compileSimdModule } from "./_wasm_module.ts";
 * import assert from "node:assert/strict";
 * // The smallest valid module: magic and version.
 * assert.ok(compileSimdModule(btoa("\0asm\x01\0\0\0")) instanceof WebAssembly.Module);
 * assert.equal(compileSimdModule(btoa("not wasm")), null);
 * ```
 */
export function compileSimdModule(base64: string): WebAssembly.Module | null {
  try {
    const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
    if (wasm === undefined) return null;
    const bytes = decodeBase64(base64);
    return wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    return null;
  }
}
