/**
 * The default warning printer, in a module of its own: the thread that only starts a
 * conversion's worker prints its warnings without loading the conversion's modules.
 *
 * @module
 */

/**
 * Prints one `warning: …` line on standard error.
 *
 * @param message The warning.
 *
 * @example
 * ```ts
 * import { printWarning } from "./print_warning.ts";
 * printWarning("tensor blk.0.attn_q.weight: 3 rows hold NaN");
 * ```
 */
export function printWarning(message: string): void {
  console.warn(`warning: ${message}`);
}
