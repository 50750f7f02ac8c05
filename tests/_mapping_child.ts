/**
 * Mapping lifetimes under transfers and garbage collection, in a process of its own (a
 * view that outlives its mapping would crash it). Prints one JSON line of results. Run by
 * tests/mapping_lifetime_test.ts:
 *
 *   deno run -A --v8-flags=--expose-gc tests/_mapping_child.ts SAMPLE
 *   bun tests/_mapping_child.ts SAMPLE
 */
import { readFileSync } from "node:fs";
import { convertGguf } from "../mod.ts";
import { openByteSource } from "../sources.ts";
import { collect } from "./_collect.ts";

const sample = process.argv[2] ?? process.argv[process.argv.length - 1];
const file = new Uint8Array(readFileSync(sample));

/** Where a kept (zero-copy) tensor's bytes are in the file, and a view of them. */
async function keptView(): Promise<{ view: Uint8Array; at: number }> {
  const model = await convertGguf(sample); // dropped without close()
  const tensor = model.tensors.get("token_embd.weight")!;
  if (!tensor.zeroCopy) throw new Error("token_embd.weight is not a view");
  return { view: tensor.data as Uint8Array, at: tensor.info.fileOffset };
}

/** The first 64 bytes of `view` equal the file's at `at`. */
const same = (view: Uint8Array, at: number) =>
  view.subarray(0, 64).every((b, i) => b === file[at + i]);

const results: Record<string, unknown> = {};

{
  const { view, at } = await keptView();
  const moved = new Uint8Array((view.buffer as ArrayBuffer).transfer());
  await collect(6, 5);
  results.transfer = same(moved.subarray(at), at);
}
{
  const { view, at } = await keptView();
  const cloned = structuredClone(view, { transfer: [view.buffer] });
  await collect(6, 5);
  results.structuredClone = same(cloned, at);
}
{
  const { view, at } = await keptView();
  const channel = new MessageChannel();
  const received = new Promise<Uint8Array>((resolve) => {
    channel.port2.onmessage = (event) => resolve(event.data as Uint8Array);
  });
  channel.port1.postMessage(view, [view.buffer]);
  const got = await received;
  channel.port1.close();
  channel.port2.close();
  await collect(6, 5);
  results.postMessage = same(got, at);
}
{
  const source = await openByteSource(sample, { access: "mmap" });
  const view = source.view(0, 64)!;
  await source.close();
  await collect(6, 5);
  // After close(): the file's bytes where memory is managed by the collector (Bun), zeros
  // where close() ends the mapping (Deno). Never a crash.
  results.afterClose = same(view, 0) ? "file" : view.every((b) => b === 0) ? "zeros" : "other";
}
{
  const model = await convertGguf(sample);
  const tensor = model.tensors.get("token_embd.weight")!;
  const view = tensor.data as Uint8Array;
  const at = tensor.info.fileOffset;
  await collect(6, 5);
  const before = same(view, at);
  await model.close();
  await collect(6, 5);
  results.modelClose = [
    before,
    same(view, at) ? "file" : view.every((b) => b === 0) ? "zeros" : "other",
  ];
}
console.log(JSON.stringify(results));
