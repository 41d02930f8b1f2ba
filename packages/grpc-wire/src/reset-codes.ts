import { Code, ConnectError } from "@connectrpc/connect";

/** HTTP/2 error codes (RST_STREAM, GOAWAY) and the gRPC status each maps to, as connect-node maps them. */
export const RESET_CODES: ReadonlyMap<number, readonly [name: string, code: Code]> = new Map([
  [0x1, ["PROTOCOL_ERROR", Code.Internal]],
  [0x2, ["INTERNAL_ERROR", Code.Internal]],
  [0x3, ["FLOW_CONTROL_ERROR", Code.Internal]],
  [0x4, ["SETTINGS_TIMEOUT", Code.Internal]],
  [0x6, ["FRAME_SIZE_ERROR", Code.Internal]],
  [0x7, ["REFUSED_STREAM", Code.Unavailable]],
  [0x8, ["CANCEL", Code.Canceled]],
  [0x9, ["COMPRESSION_ERROR", Code.Internal]],
  [0xa, ["CONNECT_ERROR", Code.Internal]],
  [0xb, ["ENHANCE_YOUR_CALM", Code.ResourceExhausted]],
  [0xc, ["INADEQUATE_SECURITY", Code.PermissionDenied]],
  [0xd, ["HTTP_1_1_REQUIRED", Code.PermissionDenied]],
]);

/**
 * The error of a stream reset by the peer, worded as connect-node words it; `undefined` for
 * NO_ERROR, an unknown code, or no reset at all.
 */
export function resetError(rstCode: number | undefined): ConnectError | undefined {
  if (rstCode === undefined) return undefined;
  const known = RESET_CODES.get(rstCode);
  if (known === undefined) return undefined;
  const [name, code] = known;
  return new ConnectError(`http/2 stream closed with error code ${name} (0x${rstCode.toString(16)})`, code);
}
