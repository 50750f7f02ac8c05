/**
 * Serves examples/edge_convert.ts with Bun.serve.
 *
 *   bun examples/serve_bun.ts [PORT]
 */
import handler from "./edge_convert.ts";

declare const Bun: {
  serve(
    options: { port: number; hostname: string; fetch: (request: Request) => Promise<Response> },
  ): {
    port: number;
  };
};

const server = Bun.serve({
  port: Number(process.argv[2] ?? 8787),
  hostname: "127.0.0.1",
  fetch: handler.fetch,
});
console.log(`listening on http://127.0.0.1:${server.port}/`);
