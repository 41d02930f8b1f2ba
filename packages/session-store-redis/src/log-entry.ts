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

/** One change of a log entry as stored: values still tagged (in place or blob references). */
export interface RawChange {
  readonly kind: "value_change" | "deleted";
  readonly version: number;
  readonly id: string;
  readonly header: string;
  readonly metadata: string;
  readonly oldStored: Buffer;
  readonly newStored: Buffer | undefined;
}

/** The changes of a log entry, values not decoded. */
export function rawChanges(entry: LogEntry): RawChange[] {
  const blob = entry.fields.get("x") ?? Buffer.alloc(0);
  const changes: RawChange[] = [];
  let offset = 0;
  while (offset < blob.length) {
    const newline = blob.indexOf(10, offset);
    const [kind, version, id, ...lengthTexts] = blob.toString("latin1", offset, newline).split("|");
    const [headerLength, metadataLength, oldLength, newLength] = lengthTexts.map(Number) as [
      number,
      number,
      number,
      number,
    ];
    let start = newline + 1;
    const take = (length: number) => {
      const part = blob.subarray(start, start + length);
      start += length;
      return part;
    };
    const header = take(headerLength).toString("utf8");
    const metadata = take(metadataLength).toString("utf8");
    const oldStored = take(oldLength);
    const newStored = take(newLength);
    offset = start;
    changes.push({
      kind: kind === "d" ? "deleted" : "value_change",
      version: Number(version),
      id: id as string,
      header,
      metadata,
      oldStored,
      newStored: kind === "d" ? undefined : newStored,
    });
  }
  return changes;
}

/**
 * The change record of a log entry, for the changes whose variable id is in `wanted` (all
 * when absent); `values` holds their old and new values' bytes in order (see
 * {@link storedValuesOf}), blobs already fetched.
 */
export function toChangeRecord(
  entry: LogEntry,
  changes: readonly RawChange[],
  values: readonly Buffer[],
): ChangeRecord {
  const source = entry.fields.get("src")?.toString("utf8") ?? "unknown";
  const timestamp = Number(entry.fields.get("ts")?.toString("latin1") ?? "0");
  const record: VariableChange[] = [];
  let bytes = 0;
  let next = 0;
  for (const change of changes) {
    const header = decodeHeader(change.header);
    const oldValue = decodeStoredValue(header.type, values[next++] as Buffer);
    const newValue =
      change.newStored === undefined ? undefined : decodeStoredValue(header.type, values[next++] as Buffer);
    const metadata = decodeMetadata(change.metadata);
    const changeBytes =
      valueByteLength(header.type, oldValue) +
      (newValue === undefined ? 0 : valueByteLength(header.type, newValue)) +
      jsonByteLength(metadata) +
      RECORD_OVERHEAD_BYTES;
    bytes += changeBytes;
    record.push({
      kind: change.kind,
      id: change.id,
      name: header.name,
      variableType: header.type,
      oldValue,
      newValue,
      version: change.version,
      source,
      metadata,
      timestamp,
      bytes: changeBytes,
    });
  }
  return { revision: entry.revision, changes: record, bytes };
}

/** The stored (tagged) old and new values of changes, in the order {@link toChangeRecord} takes. */
export function storedValuesOf(changes: readonly RawChange[]): Buffer[] {
  return changes.flatMap((change) =>
    change.newStored === undefined ? [change.oldStored] : [change.oldStored, change.newStored],
  );
}
