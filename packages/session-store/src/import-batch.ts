import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ParsedExport,
  parseExport,
  parseExportedVariables,
} from "@statebridge/state-provider";
import type { SessionStore } from "./types.js";

/**
 * Checks what {@link SessionStore.importVariables} was given as an export document would be
 * checked: the document's own fields get `parseExport`'s checks and messages, its variables
 * are checked where they are, without being encoded for a document first.
 *
 * @throws `invalid_export` naming `revision`, `metadata` or `variables[i].field`.
 */
export function parseImportBatch(
  sessionId: string,
  batch: Parameters<SessionStore["importVariables"]>[1],
): ParsedExport {
  const { revision, metadata } = parseExport({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    sessionId,
    revision: batch.revision,
    metadata: batch.metadata,
    variables: [],
  });
  const variables = parseExportedVariables(batch.variables);
  return { sessionId, revision, metadata, variables };
}
