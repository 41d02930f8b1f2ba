import { describe, expect, it } from "vitest";
import { ERROR_CODE_TRAILER, GRPC_STATUS_OF, stateCodeOfGrpcStatus } from "./grpc-codes.js";

describe("gRPC status mapping", () => {
  it("maps every code to a status whose reverse mapping gives it back, except where several codes share a status", () => {
    // These share a status with another code, or (closed) travel under CANCELLED, which without the
    // trailer means the call was cut off; the trailer carries the exact code.
    const shared = new Set(["session_expired", "invalid_type", "invalid_export", "closed"]);
    for (const [code, status] of Object.entries(GRPC_STATUS_OF)) {
      expect(Number.isInteger(status)).toBe(true);
      if (!shared.has(code)) expect(stateCodeOfGrpcStatus(status), code).toBe(code);
    }
    expect(stateCodeOfGrpcStatus(GRPC_STATUS_OF.session_expired)).toBe("not_found");
    expect(stateCodeOfGrpcStatus(GRPC_STATUS_OF.invalid_type)).toBe("invalid_value");
    expect(stateCodeOfGrpcStatus(GRPC_STATUS_OF.closed)).toBe("unavailable");
    expect(stateCodeOfGrpcStatus(4)).toBe("unavailable");
    expect(stateCodeOfGrpcStatus(13)).toBe("unavailable");
    expect(ERROR_CODE_TRAILER).toBe("statebridge-error-code");
  });
});
