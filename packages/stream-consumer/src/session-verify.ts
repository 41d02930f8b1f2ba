import type { Http2SessionManager } from "@connectrpc/connect-node";

/** The parts of connect-node 2.1's `Http2SessionManager` internals the repair touches. */
interface ReadyState {
  readonly conn: {
    once(event: "close", listener: () => void): unknown;
    off(event: "close", listener: () => void): unknown;
  };
  verify(): Promise<boolean>;
}

interface VerifyingManager {
  verify(ready: ReadyState): Promise<void>;
}

const repaired = new WeakSet<Http2SessionManager>();
const settling = new WeakSet<ReadyState>();

/**
 * Makes `manager`'s connection check settle when the connection closes while the check waits
 * for its PING answer. Idempotent; the consumer applies it to the connection it opens streams
 * on, and a connect client's own `Http2SessionManager` should get it too.
 *
 * connect-node 2.1 checks a connection idle for longer than `pingIntervalMs` with a PING
 * before the next request, and every request waits for that one check. If the connection
 * closes without an error meanwhile (a peer or proxy that closes it cleanly, an idle timeout),
 * the PING is cancelled, the check never settles, and every later request that needs a check
 * waits forever: a watch then reconnects without end and never catches up. Fixed upstream
 * (connect-es #1746) in 2.2, which needs Node 22. Here a clean close fails the check, which
 * opens a new connection, as a PING timeout does; if the manager already moved on to another
 * connection, the check passes and the request takes that one.
 */
export function settleVerifyOnClose(manager: Http2SessionManager): void {
  if (repaired.has(manager)) return;
  const internals = manager as unknown as VerifyingManager;
  if (typeof internals.verify !== "function") return;
  repaired.add(manager);
  const verify = internals.verify;
  internals.verify = function (this: VerifyingManager, ready: ReadyState): Promise<void> {
    if (!settling.has(ready) && typeof ready?.verify === "function") {
      settling.add(ready);
      const ping = ready.verify;
      ready.verify = () =>
        new Promise<boolean>((resolve) => {
          const onClose = () => {
            const state = manager.state();
            resolve(!(state === "closed" || state === "error"));
          };
          ready.conn.once("close", onClose);
          ping.call(ready).then(
            (alive) => {
              ready.conn.off("close", onClose);
              resolve(alive);
            },
            () => {
              ready.conn.off("close", onClose);
              resolve(false);
            },
          );
        });
    }
    return verify.call(this, ready);
  };
}
