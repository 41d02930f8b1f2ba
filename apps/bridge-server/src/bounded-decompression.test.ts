import { gzipSync } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { boundDecompression, createDecompressionBudget } from "./bounded-decompression.js";
import { silentLogger } from "./logger.js";

const MiB = 1024 * 1024;

function errorOf(promise: Promise<unknown>): Promise<ConnectError> {
  return promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => ConnectError.from(error),
  );
}

describe("boundDecompression", () => {
  it("inflates gzip and br exactly as connect's compressions do, into a buffer of its own", async () => {
    const message = new Uint8Array(300_000).map((_, index) => (index * 7) % 251);
    for (const compression of [compressionGzip, compressionBrotli]) {
      const bounded = boundDecompression(compression, createDecompressionBudget(MiB), silentLogger);
      const inflated = await bounded.decompress(await compression.compress(message), MiB);
      expect(Buffer.from(inflated).equals(Buffer.from(message)), compression.name).toBe(true);
      expect(inflated.byteOffset).toBe(0);
      expect(inflated.buffer.byteLength).toBe(message.byteLength);
    }
  });

  it("a message past readMaxBytes once inflated is refused with the statebridge resource_exhausted", async () => {
    const bounded = boundDecompression(compressionGzip, createDecompressionBudget(64 * MiB), silentLogger);
    const error = await errorOf(bounded.decompress(gzipSync(Buffer.alloc(8 * MiB)), MiB));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
    expect(error.rawMessage).toContain("--max-request-bytes");
  });

  // Regression: eight gzip bombs at once each inflated to the per-request limit, so the
  // server held eight times the largest message (≈ 650 MiB at the defaults).
  it("requests inflating at once share one budget: past it they are refused, and the bytes come back", async () => {
    const budget = createDecompressionBudget(4 * MiB);
    const bounded = boundDecompression(compressionGzip, budget, silentLogger);
    const bomb = gzipSync(Buffer.alloc(3 * MiB));
    // Another request holds most of the budget: this one no longer fits, and is refused.
    expect(budget.take(2 * MiB)).toBe(true);
    const error = await errorOf(bounded.decompress(bomb, 3 * MiB));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get("statebridge-error-code")).toBe("resource_exhausted");
    expect(error.rawMessage).toContain("--max-decompressing-bytes");
    expect(budget.usedBytes).toBe(2 * MiB);
    budget.give(2 * MiB);
    // Many at once: whatever is refused is refused for the budget, and every byte comes back.
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => bounded.decompress(bomb, 3 * MiB)));
    expect(results.some((result) => result.status === "fulfilled")).toBe(true);
    for (const result of results) {
      if (result.status === "fulfilled") continue;
      expect(ConnectError.from(result.reason).rawMessage).toContain("--max-decompressing-bytes");
    }
    expect(budget.usedBytes).toBe(0);
    // With the budget given back, one request alone fits again.
    expect((await bounded.decompress(bomb, 3 * MiB)).byteLength).toBe(3 * MiB);
  });

  it("corrupt input is refused as connect refuses it, and gives its bytes back", async () => {
    const budget = createDecompressionBudget(MiB);
    const bounded = boundDecompression(compressionGzip, budget, silentLogger);
    const corrupt = await errorOf(bounded.decompress(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), MiB));
    const connects = await errorOf(
      compressionGzip.decompress(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), MiB),
    );
    expect([corrupt.code, corrupt.rawMessage]).toEqual([connects.code, connects.rawMessage]);
    const whole = gzipSync(Buffer.alloc(1000, 1));
    const truncated = whole.subarray(0, whole.byteLength - 12);
    const cut = await errorOf(bounded.decompress(truncated, MiB));
    const connectsCut = await errorOf(compressionGzip.decompress(truncated, MiB));
    expect([cut.code, cut.rawMessage]).toEqual([connectsCut.code, connectsCut.rawMessage]);
    expect(budget.usedBytes).toBe(0);
  });
});
