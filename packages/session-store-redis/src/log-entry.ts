import type { ChangeRecord, VariableChange } from "@statebridge/session-store";
import { jsonByteLength, RECORD_OVERHEAD_BYTES, valueByteLength } from "@statebridge/session-store";
import { decodeHeader, decodeMetadata, decodeStoredValue } from "./codec.js";
import type { Reply } from "./connection.js";

/** One entry of a session's change log, as a reader needs it before decoding values. */
export interface LogEntry {
  /** The entry id's revision. */
  readonly revision: number;
  /** The revision of the entry before it in the log (0 for the first). */
  readonly previous: number;
  /** The session epoch that wrote it. */
  readonly epoch: string;
  /** `deleted` on the last entry of a deleted session. */
  readonly ending: string | undefined;
  readonly fields: ReadonlyMap<string, Buffer>;
}

/** Parses an XREAD/XRANGE entry `[id, [field, value, …]]`. */
export function parseLogEntry(raw: Reply): LogEntry {
  const [id, list] = raw as readonly [Buffer, readonly Buffer[]];
  const fields = new Map<string, Buffer>();
  for (let index = 0; index + 1 < list.length; index += 2) {
    fields.set((list[index] as Buffer).toString("latin1"), list[index + 1] as Buffer);
  }
  const text = id.toString("latin1");
  return {
    revision: Number(text.slice(0, text.indexOf("-"))),
    previous: Number(fields.get("p")?.toString("latin1") ?? "0"),
    epoch: fields.get("g")?.toString("latin1") ?? "",
    ending: fields.get("end")?.toString("latin1"),
    fields,
  };
}

/**
 * The change record of a log entry. Values are decoded only for changes whose variable id is
 * in `wanted` (all when absent): a large tensor nobody here watches is never unpacked.
 */
export function toChangeRecord(entry: LogEntry, wanted?: ReadonlySet<string>): ChangeRecord {
  const blob = entry.fields.get("x") ?? Buffer.alloc(0);
  const source = entry.fields.get("src")?.toString("utf8") ?? "unknown";
  const timestamp = Number(entry.fields.get("ts")?.toString("latin1") ?? "0");
  const changes: VariableChange[] = [];
  let bytes = 0;
  let offset = 0;
  while (offset < blob.length) {
    const newline = blob.indexOf(10, offset);
    const [kind, version, id, headerLength, metadataLength, oldLength, newLength] = blob
      .toString("latin1", offset, newline)
      .split("|");
    offset = newline + 1;
    const lengths = [headerLength, metadataLength, oldLength, newLength].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    const start = offset;
    offset += lengths[0] + lengths[1] + lengths[2] + lengths[3];
    if (wanted !== undefined && !wanted.has(id as string)) continue;
    const header = decodeHeader(blob.toString("utf8", start, start + lengths[0]));
    const metadataText = blob.toString("utf8", start + lengths[0], start + lengths[0] + lengths[1]);
    const oldStart = start + lengths[0] + lengths[1];
    const oldValue = decodeStoredValue(header.type, blob.subarray(oldStart, oldStart + lengths[2]));
    const deleted = kind === "d";
    const newValue = deleted
      ? undefined
      : decodeStoredValue(
          header.type,
          blob.subarray(oldStart + lengths[2], oldStart + lengths[2] + lengths[3]),
        );
    const metadata = decodeMetadata(metadataText);
    const changeBytes =
      valueByteLength(header.type, oldValue) +
      (newValue === undefined ? 0 : valueByteLength(header.type, newValue)) +
      jsonByteLength(metadata) +
      RECORD_OVERHEAD_BYTES;
    bytes += changeBytes;
    changes.push({
      kind: deleted ? "deleted" : "value_change",
      id: id as string,
      name: header.name,
      variableType: header.type,
      oldValue,
      newValue,
      version: Number(version),
      source,
      metadata,
      timestamp,
      bytes: changeBytes,
    });
  }
  return { revision: entry.revision, changes, bytes };
}
