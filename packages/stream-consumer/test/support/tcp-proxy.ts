import { type AddressInfo, createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy between clients and a server, on real sockets, that breaks the network on
 * demand: {@link TcpProxy.cut} resets every connection mid-stream; {@link TcpProxy.blackhole}
 * stops moving bytes either way (and holds new connections) until it is lifted, as a network
 * partition does: nothing is lost or refused, it just does not arrive.
 */
export interface TcpProxy {
  /** The address clients use, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Connections open now. */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection, both sides. */
  cut(): void;
  /** Destroys one open connection picked by `pick` (an index below `connections`). */
  cutOne(pick: (count: number) => number): void;
  /** Starts (true) or ends (false) a partition. */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

/** Starts a proxy on a free port to `targetPort` on 127.0.0.1. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let partitioned = false;
  let accepted = 0;

  function destroy(pair: Pair): void {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }

  function connect(pair: Pair): void {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    pair.upstream = upstream;
    upstream.on("error", () => destroy(pair));
    upstream.on("close", () => destroy(pair));
    forward(pair.client, upstream);
    forward(upstream, pair.client);
    if (partitioned) hold(pair);
    else pair.client.resume();
  }

  // Not pipe(): its backpressure handling resumes a paused source, which would let bytes
  // through a partition.
  function forward(from: Socket, to: Socket): void {
    from.on("data", (chunk: Buffer) => {
      if (to.write(chunk)) return;
      from.pause();
      to.once("drain", () => {
        if (!partitioned) from.resume();
      });
    });
    from.on("end", () => to.end());
  }

  function hold(pair: Pair): void {
    pair.client.pause();
    pair.upstream?.pause();
  }

  function release(pair: Pair): void {
    if (pair.upstream === undefined) connect(pair);
    pair.client.resume();
    pair.upstream?.resume();
  }

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const pair: Pair = { client, upstream: undefined };
    pairs.add(pair);
    client.on("error", () => destroy(pair));
    client.on("close", () => destroy(pair));
    // During a partition a new connection is accepted by the kernel but goes nowhere.
    if (!partitioned) connect(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      for (const pair of [...pairs]) destroy(pair);
    },
    cutOne(pick) {
      const list = [...pairs];
      const pair = list[pick(list.length)];
      if (pair !== undefined) destroy(pair);
    },
    blackhole(on) {
      partitioned = on;
      for (const pair of pairs) {
        if (on) hold(pair);
        else release(pair);
      }
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
