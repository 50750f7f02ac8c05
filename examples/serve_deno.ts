/**
 * Serves examples/edge_convert.ts under Deno, through `node:http` (see _serve_node_http.ts:
 * `Deno.serve` buffers a whole upload in memory while the response streams, so it cannot
 * convert in bounded memory; this keeps the upload paced by the conversion).
 *
 *   deno run -A examples/serve_deno.ts [PORT]
 *
 * Limits come from the environment: GGUF_MAX_BODY_BYTES, GGUF_MAX_HEADER_MEMORY,
 * GGUF_MAX_HEADER_BYTES (see `EdgeLimits` in edge_convert.ts).
 */
import { edgeConvert, limitsFromEnv } from "./edge_convert.ts";
import { serveNodeHttp } from "./_serve_node_http.ts";

let limits;
try {
  limits = limitsFromEnv((name) => Deno.env.get(name));
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  Deno.exit(1);
}
const handler = edgeConvert(limits);
serveNodeHttp(handler.fetch, {
  port: Number(Deno.args[0] ?? 8787),
  hostname: "127.0.0.1",
  onListen: (port) => console.log(`listening on http://127.0.0.1:${port}/`),
});
