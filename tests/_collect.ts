/**
 * Garbage collection on demand for the test children that watch what it frees: Bun's
 * `Bun.gc(true)`, or `gc()` where V8 exposes it (Deno with `--v8-flags=--expose-gc`, Node
 * with `--expose-gc`).
 */

/**
 * Collects `rounds` times, waiting `ms` after each so that finalizers run.
 *
 * @param rounds How many collections.
 * @param ms The wait after each.
 */
export async function collect(rounds: number, ms: number): Promise<void> {
  const g = globalThis as unknown as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  for (let i = 0; i < rounds; i++) {
    if (g.Bun !== undefined) g.Bun.gc(true);
    else g.gc?.();
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
