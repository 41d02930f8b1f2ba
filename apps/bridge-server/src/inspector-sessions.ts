import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListSessionsRequest, ListSessionsResponseSchema } from "@statebridge/proto";
import type { SessionStore } from "@statebridge/session-store";
import { StateError } from "@statebridge/state-provider";
import { toProtoSession } from "./wire-conversion.js";

/** Most sessions one ListSessions page holds; a larger page_size is served as this many. */
export const MAX_LIST_SESSIONS_PAGE_SIZE = 1_000;

/**
 * Serves ListSessions: one page of the store's live sessions in id order. The page token is the
 * last id of the previous page (opaque to clients). A server that runs without the inspector
 * answers `not_found`: listing every session is the inspector's, and a deployment that turns it
 * off keeps session ids unlisted (a client still needs to know an id to reach its session).
 */
export async function listSessionsPage(
  store: SessionStore,
  request: ListSessionsRequest,
  enabled: boolean,
): Promise<MessageInitShape<typeof ListSessionsResponseSchema>> {
  if (!enabled) {
    throw new StateError(
      "not_found",
      "ListSessions is not served: this bridge-server runs without --inspector",
    );
  }
  if (request.pageSize < 0) {
    throw new StateError("invalid_value", `page_size must be 0 or more, got ${request.pageSize}`);
  }
  const page = await store.listSessions({
    ...(request.pageSize === 0 ? {} : { limit: Math.min(request.pageSize, MAX_LIST_SESSIONS_PAGE_SIZE) }),
    ...(request.pageToken === "" ? {} : { after: request.pageToken }),
    ...(request.prefix === "" ? {} : { prefix: request.prefix }),
  });
  return { sessions: page.sessions.map(toProtoSession), nextPageToken: page.next ?? "" };
}
