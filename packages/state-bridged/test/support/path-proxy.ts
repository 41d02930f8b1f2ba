import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";

/** A path-routing HTTP/2 proxy, as a gateway that serves the bridge-server under a prefix does. */
export interface PathProxy {
  /** The proxy's own address, `http://127.0.0.1:port` (add the prefix to reach the server). */
  readonly url: string;
  /** The `:path` of every request that reached the proxy, in order. */
  readonly paths: readonly string[];
  /** Closes the proxy and its connection to the server. */
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/**
 * Starts a cleartext HTTP/2 proxy on a free port that forwards requests whose path starts with
 * `prefix/` to `target` with the prefix stripped (headers, DATA and trailers as they come),
 * and answers 404 to every other path.
 */
export async function startPathProxy(target: string, prefix: string): Promise<PathProxy> {
  const upstream = http2.connect(target);
  upstream.on("error", () => {});
  const paths: string[] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const path = String(headers[":path"] ?? "");
    paths.push(path);
    if (!path.startsWith(`${prefix}/`)) {
      stream.respond({ ":status": 404 }, { endStream: true });
      return;
    }
    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (HOP_BY_HOP.has(name) || (name.startsWith(":") && name !== ":method")) continue;
      forwarded[name] = value;
    }
    forwarded[":path"] = path.slice(prefix.length);
    const request = upstream.request(forwarded);
    request.on("error", () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on("close", () => {
      if (!request.closed) request.close(stream.rstCode || http2.constants.NGHTTP2_CANCEL);
    });
    stream.pipe(request);
    let trailers: http2.IncomingHttpHeaders = {};
    request.on("response", (response, flags) => {
      const outgoing: http2.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(response)) {
        if (name.startsWith(":") && name !== ":status") continue;
        if (!HOP_BY_HOP.has(name)) outgoing[name] = value;
      }
      // A trailers-only response ends with its headers.
      const ended = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      stream.respond(outgoing, ended ? { endStream: true } : { waitForTrailers: true });
      if (ended) return;
      stream.once("wantTrailers", () => {
        const outgoingTrailers: http2.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(trailers))
          if (!name.startsWith(":")) outgoingTrailers[name] = value;
        stream.sendTrailers(outgoingTrailers);
      });
      request.on("data", (chunk: Buffer) => stream.write(chunk));
      request.on("end", () => stream.end());
    });
    request.on("trailers", (received) => {
      trailers = received;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    async close() {
      upstream.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
