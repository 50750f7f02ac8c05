/**
 * Serves examples/edge_convert.ts with Bun.serve.
 *
 *   bun examples/serve_bun.ts [PORT]
 *
 * Limits come from the environment: GGUF_MAX_BODY_BYTES, GGUF_MAX_HEADER_MEMORY,
 * GGUF_MAX_HEADER_BYTES (see `EdgeLimits` in edge_convert.ts).
 */
import { edgeConvert, limitsFromEnv } from "./edge_convert.ts";

declare const Bun: {
  serve(
    options: {
      port: number;
      hostname: string;
      maxRequestBodySize: number;
      fetch: (request: Request) => Promise<Response>;
    },
  ): {
    port: number;
  };
};

let limits;
try {
  limits = limitsFromEnv((name) => process.env[name]);
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
const server = Bun.serve({
  port: Number(process.argv[2] ?? 8787),
  hostname: "127.0.0.1",
  // Bun's own cap (128 MiB by default) must not be the smaller one: the handler answers 413.
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  fetch: edgeConvert(limits).fetch,
});
console.log(`listening on http://127.0.0.1:${server.port}/`);
