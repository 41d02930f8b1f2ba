import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { formatGrpcTimeout, MAX_TIMER_MS, parseGrpcTimeout } from "./timeout.js";

describe("parseGrpcTimeout", () => {
  it("reads every unit", () => {
    expect(parseGrpcTimeout("5H").timeoutMs).toBe(5 * 3_600_000);
    expect(parseGrpcTimeout("2M").timeoutMs).toBe(120_000);
    expect(parseGrpcTimeout("3S").timeoutMs).toBe(3_000);
    expect(parseGrpcTimeout("250m").timeoutMs).toBe(250);
    expect(parseGrpcTimeout("1500u").timeoutMs).toBeCloseTo(1.5);
    expect(parseGrpcTimeout("2000000n").timeoutMs).toBeCloseTo(2);
  });

  it("no header is no deadline", () => {
    expect(parseGrpcTimeout(undefined)).toEqual({ timeoutMs: undefined });
  });

  // Regression: 99999999H is valid per the gRPC spec and overflowed Node's timer.
  it("a valid timeout longer than the longest Node timer is no deadline", () => {
    expect(parseGrpcTimeout("99999999H")).toEqual({ timeoutMs: undefined });
    expect(parseGrpcTimeout(`${MAX_TIMER_MS + 1}m`.replace(/^(\d{8})\d+m$/, "$1S"))).toEqual({
      timeoutMs: undefined,
    });
    expect(parseGrpcTimeout(`${Math.floor(MAX_TIMER_MS / 1000)}S`).timeoutMs).toBeLessThanOrEqual(
      MAX_TIMER_MS,
    );
  });

  it("an invalid timeout is refused with connect's invalid_argument", () => {
    for (const header of ["", "1", "123456789S", "-1S", "1.5S", "10x", "S"]) {
      const parsed = parseGrpcTimeout(header);
      expect(parsed.error?.code, header).toBe(Code.InvalidArgument);
      expect(parsed.error?.rawMessage).toBe(`protocol error: invalid grpc timeout value: ${header}`);
    }
  });
});

describe("formatGrpcTimeout", () => {
  it("writes whole milliseconds, at least 1, and seconds beyond eight digits", () => {
    expect(formatGrpcTimeout(0)).toBe("1m");
    expect(formatGrpcTimeout(12.2)).toBe("13m");
    expect(formatGrpcTimeout(99_999_999)).toBe("99999999m");
    expect(formatGrpcTimeout(100_000_000)).toBe("100000S");
    expect(formatGrpcTimeout(Number.MAX_SAFE_INTEGER)).toBe("99999999S");
    for (const timeoutMs of [1, 5_000, 1e12])
      expect(parseGrpcTimeout(formatGrpcTimeout(timeoutMs)).error).toBeUndefined();
  });
});
