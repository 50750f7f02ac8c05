/**
 * Serves examples/edge_convert.ts with Deno.serve.
 *
 *   deno run -A examples/serve_deno.ts [PORT]
 */
import handler from "./edge_convert.ts";

const port = Number(Deno.args[0] ?? 8787);
Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`),
}, handler.fetch);
