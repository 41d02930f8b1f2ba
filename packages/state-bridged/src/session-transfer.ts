import { BridgeService } from "@statebridge/proto";
import { createExport, type ExportDocument, parseExport } from "@statebridge/state-provider";
import { assertOpen, type BridgedCore } from "./bridged-core.js";
import { createPreEncodedImportRequest } from "./import-encoding.js";
import { metadataFromJson, variableFromWire, variableToWire } from "./wire-variable.js";

/**
 * `export()`: the session as an export document, its `exportedAt` the server's clock (this
 * process's if the server does not say).
 */
export async function exportSession(core: BridgedCore): Promise<ExportDocument> {
  const sessionId = core.sessionId;
  const response = await core.policy.idempotent((call) =>
    core.unary(BridgeService.method.exportSession, { sessionId }, call),
  );
  const variables = response.variables.map(variableFromWire);
  for (const variable of variables) core.types.remember(variable);
  const document = createExport({
    sessionId: response.sessionId,
    revision: Number(response.revision),
    metadata: metadataFromJson(response.metadataJson),
    variables,
  });
  return { ...document, exportedAt: Number(response.exportedAtMs) || document.exportedAt };
}

/**
 * `import()`: sends a parsed export document's variables, all or nothing; the near cache
 * forgets every variable the document names.
 */
export async function importSession(core: BridgedCore, document: unknown): Promise<void> {
  // Parsed here so that a malformed document is refused with a precise `invalid_export`
  // naming its first problem, and so that values are sent in their types' own fields.
  assertOpen(core);
  const parsed = parseExport(document);
  const metadataJson = Object.keys(parsed.metadata).length === 0 ? "" : JSON.stringify(parsed.metadata);
  const request = { sessionId: core.sessionId, revision: parsed.revision, metadataJson };
  const message = core.binaryWire
    ? createPreEncodedImportRequest({ ...request, variables: parsed.variables })
    : { ...request, revision: BigInt(parsed.revision), variables: parsed.variables.map(variableToWire) };
  await core.policy.once((call) => core.unary(BridgeService.method.importSession, message, call));
  for (const variable of parsed.variables) {
    core.types.remember(variable);
    core.cache?.forget(variable.name);
    core.cache?.forget(variable.id);
  }
}
