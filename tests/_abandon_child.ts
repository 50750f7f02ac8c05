/**
 * `convertStream()` outputs read part-way with worker threads converting, then dropped
 * without `cancel()` and collected: their conversions must stop, threads and all. In a
 * process of its own, with garbage collection at hand; Linux only (threads are counted in
 * /proc/self/status). Prints `{"before":N,"after":M}`, the process's threads after one such
 * output and after four more. Run by tests/convert_stream_test.ts:
 *
 *   deno run -A --v8-flags=--expose-gc tests/_abandon_child.ts
 *   bun tests/_abandon_child.ts
 *   node --expose-gc tests/_abandon_child.ts
 */
import { readFileSync } from "node:fs";
import { convertStream } from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { collect } from "./_collect.ts";

// One Q4_K tensor of 4 Mi values, large enough to be split between two threads.
const header = encodeGgufHeader({
  alignment: 32,
  metadata: [],
  tensors: [{ name: "w", shape: [4096, 1024], type: 12, nbytes: (4096 * 1024 / 256) * 144 }],
});
const file = new Uint8Array(header.fileSize);
file.set(header.bytes);
for (let i = header.dataOffset; i < file.length; i++) file[i] = ((i * 2654435761) >>> 24) & 0x3f;

const threads = () =>
  Number(/Threads:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]);

async function readSomeAndDrop(): Promise<void> {
  let at = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(file.slice(at, at + 65536));
      at += 65536;
      if (at >= file.length) controller.close();
    },
  });
  const options = { onWarning: () => {}, chunkBytes: 65536, threads: 2 };
  const reader = convertStream(input, options).getReader();
  for (let i = 0; i < 40; i++) await reader.read();
  reader.releaseLock(); // dropped, never cancelled
}

// The first one may start threads of the runtime's own that stay.
await readSomeAndDrop();
await collect(10, 30);
const before = threads();
for (let i = 0; i < 4; i++) await readSomeAndDrop();
await collect(10, 30);
console.log(JSON.stringify({ before, after: threads() }));
