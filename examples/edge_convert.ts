/**
 * An edge function that converts a GGUF model as it streams through: POST the model as the
 * request body, read the converted GGUF from the response. Memory stays bounded by a few
 * chunks whatever the model's size, and the request is read only as fast as the response
 * is taken. The same `export default { fetch }` runs under Deno.serve (serve_deno.ts),
 * Bun.serve (serve_bun.ts) and Cloudflare's workerd (serve_workerd.mjs, bundled first).
 *
 * Query parameters set the policy, as the CLI's flags do:
 * `?target=Q8_0,F32&requantize=Q8_0&keep=F16&dequantize=Q6_K&unsupported=error`.
 * A bad model is answered with status 400 and a one-line `error: …` body, before any byte
 * of output.
 *
 * ```sh
 * curl -sS -T model.gguf -o converted.gguf http://127.0.0.1:8787/
 * ```
 *
 * @module
 */
import { type ConversionPolicy, convertStream, GgufError, policyFromFlags } from "../mod.ts";

/** Input bytes per conversion step, and bytes per output read. */
const CHUNK_BYTES = 256 * 1024;
const READ_BYTES = 64 * 1024;
const OCTETS = { headers: { "content-type": "application/octet-stream" } };

/** The policy from the query: the same flags, checks and messages as the CLI's. */
function policyFrom(url: URL): ConversionPolicy {
  const flag = (name: string) => url.searchParams.get(name) ?? undefined;
  return policyFromFlags({
    target: flag("target"),
    requantize: flag("requantize"),
    keep: flag("keep"),
    dequantize: flag("dequantize"),
    unsupported: flag("unsupported"),
  }, "");
}

function errorResponse(error: unknown): Response {
  const status = error instanceof GgufError || error instanceof TypeError ? 400 : 500;
  const message = error instanceof Error ? error.message : String(error);
  return new Response(`error: ${message}\n`, { status, headers: { "content-type": "text/plain" } });
}

/** workerd's pipe whose writes are taken by the response as they come (see pumpThrough). */
type IdentityPipe = new () => TransformStream<Uint8Array, Uint8Array>;

/**
 * workerd: writes the converted bytes into an IdentityTransformStream from one reused
 * buffer, refilling it only once the previous write has been taken, so the conversion
 * leaves no garbage behind for workerd's collector (which runs late).
 */
function pumpThrough(
  Pipe: IdentityPipe,
  reader: ReadableStreamBYOBReader,
  first: Uint8Array,
): ReadableStream<Uint8Array> {
  const pipe = new Pipe();
  const writer = pipe.writable.getWriter();
  (async () => {
    let value = first;
    for (;;) {
      await writer.write(value);
      const next = await reader.read(new Uint8Array(value.buffer, 0, READ_BYTES));
      if (next.done) break;
      value = next.value;
    }
    await writer.close();
  })().catch((error) => writer.abort(error));
  return pipe.readable;
}

export default {
  /** Converts the request body; see the module documentation. */
  async fetch(request: Request): Promise<Response> {
    if ((request.method !== "POST" && request.method !== "PUT") || request.body === null) {
      return new Response("POST or PUT a GGUF model as the request body\n", { status: 405 });
    }
    let reader: ReadableStreamBYOBReader;
    let first: ReadableStreamReadResult<Uint8Array>;
    try {
      const policy = policyFrom(new URL(request.url));
      const converted = convertStream(request.body, {
        policy,
        onWarning: () => {},
        chunkBytes: CHUNK_BYTES,
      });
      reader = converted.getReader({ mode: "byob" });
      // The first bytes are the output header: reading them validates the model and the plan.
      first = await reader.read(new Uint8Array(READ_BYTES));
    } catch (error) {
      return errorResponse(error);
    }
    if (first.done) return new Response(new Uint8Array(0), OCTETS);
    const Pipe = (globalThis as { IdentityTransformStream?: IdentityPipe }).IdentityTransformStream;
    if (Pipe !== undefined) return new Response(pumpThrough(Pipe, reader, first.value), OCTETS);
    let pending: Uint8Array | undefined = first.value;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pending !== undefined) {
          controller.enqueue(pending);
          pending = undefined;
          return;
        }
        // A fresh buffer each time: the server may still hold the chunks it was given.
        const { value, done } = await reader.read(new Uint8Array(READ_BYTES));
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
    return new Response(body, OCTETS);
  },
};
