import { existsSync } from "node:fs";
import { RUNTIME } from "../src/runtime/current.ts";

/**
 * Whether the platform can advise the kernel through libc here: glibc Linux, under Deno
 * (the tests run with -A, so FFI is granted) or Bun; never under Node (no FFI).
 */
export const libcAdvisable = process.platform === "linux" && RUNTIME !== "node" &&
  ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6"]
    .some(existsSync);
