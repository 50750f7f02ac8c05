/**
 * One run of convert_file_bench.ts's `write` way, in a fresh process:
 *   <runtime> bench/_pipe_writer.ts BYTES | cat > OUT
 * writes BYTES bytes to standard output through gguf-stream's standard-output sink (the
 * one `convert.ts IN -o -` writes with), 4 MiB at a time (the size of the F32 chunks a
 * conversion writes), each write awaited before the next, from one ordinary buffer:
 * the same bytes through the same path, converting nothing. Beside the CLI's own pipe
 * run, it tells how much of a gap to `cat | cat` is the runtime writing into a pipe at
 * all and how much is the conversion.
 */
import { stdoutSink } from "../sources.ts";

const total = Number(process.argv[2]);
if (!Number.isSafeInteger(total) || total < 0) throw new Error("usage: _pipe_writer.ts BYTES");
const chunk = new Uint8Array(4 << 20).fill(0x5a);
const sink = stdoutSink();
for (let done = 0; done < total; done += chunk.length) {
  await sink.write(chunk.subarray(0, Math.min(chunk.length, total - done)));
}
await sink.commit();
