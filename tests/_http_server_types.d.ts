// The part of http-server's API the tests use (the package ships no types).
import type { Server } from "node:http";

/** Options of `httpServer.createServer`. */
export interface HttpServerOptions {
  root?: string;
  cache?: number;
  showDir?: boolean;
  autoIndex?: boolean;
  gzip?: boolean;
  brotli?: boolean;
}

declare const httpServer: {
  createServer(options: HttpServerOptions): { server: Server };
};
export default httpServer;
