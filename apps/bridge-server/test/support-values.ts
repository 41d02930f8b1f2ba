import { ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import { type ErrorDetail, ErrorDetailSchema } from "@statebridge/proto";
import { packFloat64, unpackFloat64 } from "@statebridge/state-provider";

/** Wire values, as a client builds them. */
export const wire = {
  float: (value: number) => ({ kind: { case: "floatValue" as const, value } }),
  integer: (value: number) => ({ kind: { case: "integerValue" as const, value: BigInt(value) } }),
  string: (value: string) => ({ kind: { case: "stringValue" as const, value } }),
  boolean: (value: boolean) => ({ kind: { case: "booleanValue" as const, value } }),
  embedding: (values: number[]) => ({
    kind: { case: "embeddingValue" as const, value: packFloat64(values) },
  }),
  tensor: (shape: number[], data: number[]) => ({
    kind: { case: "tensorValue" as const, value: { shape: shape.map(BigInt), data: packFloat64(data) } },
  }),
};

/** Unpacks little-endian doubles received on the wire. */
export function doubles(bytes: Uint8Array): number[] {
  const numbers = unpackFloat64(bytes);
  if (numbers === undefined) throw new Error(`${bytes.byteLength} bytes are not whole doubles`);
  return [...numbers];
}

/** What a failed call carried: the ConnectError, its statebridge code and its ErrorDetail. */
export interface CallFailure {
  readonly error: ConnectError;
  readonly trailerCode: string | null;
  readonly detail: ErrorDetail | undefined;
}

/** Runs a call that must fail and returns what it failed with. */
export async function failureOf(call: Promise<unknown>): Promise<CallFailure> {
  try {
    await call;
  } catch (thrown) {
    const error = ConnectError.from(thrown);
    return {
      error,
      trailerCode: error.metadata.get(ERROR_CODE_TRAILER),
      detail: error.findDetails(ErrorDetailSchema)[0],
    };
  }
  throw new Error("the call succeeded but was expected to fail");
}
