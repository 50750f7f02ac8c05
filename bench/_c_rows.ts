/**
 * Row functions of a C shared library (ggml's `quantize_row_*` / `dequantize_row_*`, all
 * `void f(const void * src, void * dst, int64_t k)`), reached through Bun's or Deno's FFI,
 * for the benches that compare gguf-stream's kernels with ggml's C.
 *
 * @module
 */

/** A C row function: `k` values between `src` and `dst`. */
export type CRowFunction = (src: ArrayBufferView, dst: ArrayBufferView, k: number) => void;

/**
 * Loads the row functions `names` from the shared library at `path`.
 *
 * @param path The library (e.g. a `libggml-quants.so` built from ggml's sources).
 * @param names The C symbols.
 * @returns Each symbol's function, by name.
 */
export async function loadCRowFunctions(
  path: string,
  names: string[],
): Promise<Record<string, CRowFunction>> {
  const g = globalThis as Record<string, unknown>;
  const out: Record<string, CRowFunction> = {};
  if (g.Bun !== undefined) {
    const { dlopen, FFIType } = await import("bun:ffi");
    const spec = Object.fromEntries(names.map((name) => [
      name,
      { args: [FFIType.ptr, FFIType.ptr, FFIType.i64], returns: FFIType.void },
    ]));
    const lib = dlopen(path, spec);
    for (const name of names) {
      const fn = lib.symbols[name] as unknown as (a: unknown, b: unknown, k: number) => void;
      out[name] = (src, dst, k) => fn(src, dst, k);
    }
    return out;
  }
  const deno = g.Deno as {
    dlopen(path: string, spec: Record<string, unknown>): {
      symbols: Record<string, (a: ArrayBufferView, b: ArrayBufferView, k: bigint) => void>;
    };
  };
  const spec = Object.fromEntries(names.map((name) => [
    name,
    { parameters: ["buffer", "buffer", "i64"], result: "void" },
  ]));
  const lib = deno.dlopen(path, spec);
  for (const name of names) {
    const fn = lib.symbols[name];
    out[name] = (src, dst, k) => fn(src, dst, BigInt(k));
  }
  return out;
}
