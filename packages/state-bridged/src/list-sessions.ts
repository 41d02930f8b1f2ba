import { createClient } from "@connectrpc/connect";
import { BridgeService } from "@statebridge/proto";
import type { Metadata } from "@statebridge/state-provider";
import { stateErrorOf } from "./error-translation.js";
import { createBridgeTransport } from "./transport.js";

/** Options of {@link listSessions}. */
export interface ListSessionsOptions {
  /** The server's base URL, such as `http://127.0.0.1:50051`. */
  readonly url: string;
  /** Sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Sessions per page: default 100, at most 1,000 (a larger size is served as 1,000). */
  readonly pageSize?: number;
  /** `nextPageToken` of the previous page; absent for the first. */
  readonly pageToken?: string;
  /** Only sessions whose id starts with this. */
  readonly prefix?: string;
}

/** A session as {@link listSessions} describes it; times are epoch milliseconds. */
export interface SessionSummary {
  readonly sessionId: string;
  /** This life of the session: it changes when the session is recreated under its id. */
  readonly incarnation: string;
  readonly revision: number;
  readonly variableCount: number;
  readonly createdAt: number;
  readonly lastAccessedAt: number;
  readonly expiresAt: number;
  readonly ttlSeconds: number;
  readonly metadata: Metadata;
}

/** One page of {@link listSessions}. */
export interface SessionListPage {
  readonly sessions: readonly SessionSummary[];
  /** Pass as `pageToken` for the next page; absent on the last page. */
  readonly nextPageToken?: string;
}

/**
 * Lists the sessions a bridge-server holds, in id order, one page per call (ListSessions). The
 * server answers only with `--inspector` on; otherwise this fails with `not_found`. Other
 * failures come as from any call: `unauthenticated` for a missing or wrong token,
 * `unavailable` when the server cannot be reached.
 */
export async function listSessions(options: ListSessionsOptions): Promise<SessionListPage> {
  const connection = createBridgeTransport({
    url: options.url,
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  try {
    const client = createClient(BridgeService, connection.transport);
    const page = await client.listSessions({
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? "",
      prefix: options.prefix ?? "",
    });
    return {
      sessions: page.sessions.map((session) => ({
        sessionId: session.sessionId,
        incarnation: session.incarnation,
        revision: Number(session.revision),
        variableCount: Number(session.variableCount),
        createdAt: Number(session.createdAtMs),
        lastAccessedAt: Number(session.lastAccessedAtMs),
        expiresAt: Number(session.expiresAtMs),
        ttlSeconds: session.ttlSeconds,
        metadata: (session.metadataJson === "" ? {} : JSON.parse(session.metadataJson)) as Metadata,
      })),
      ...(page.nextPageToken === "" ? {} : { nextPageToken: page.nextPageToken }),
    };
  } catch (error) {
    throw stateErrorOf(error, { target: options.url });
  } finally {
    connection.close();
  }
}
