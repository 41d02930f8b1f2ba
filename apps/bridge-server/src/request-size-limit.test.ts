import { ConnectError } from "@connectrpc/connect";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import { describe, expect, it } from "vitest";
import { silentLogger } from "./logger.js";
import { limitRequestBody } from "./request-size-limit.js";

function envelope(length: number): Uint8Array {
  const bytes = new Uint8Array(5 + length);
  new DataView(bytes.buffer).setUint32(1, length);
  return bytes;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.subarray(offset, offset + size);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.byteLength;
  }
  return all;
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of body) total += chunk.byteLength;
  return total;
}

async function refusal(body: AsyncIterable<Uint8Array>): Promise<ConnectError> {
  try {
    await drain(body);
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the body was not refused");
}

describe("limitRequestBody", () => {
  it("passes enveloped messages within the limit, split anywhere, byte for byte", async () => {
    const bytes = concat(envelope(100), envelope(0), envelope(100));
    for (const size of [1, 3, 5, 7, 64, 1000]) {
      const total = await drain(
        limitRequestBody(chunked(bytes, size), "application/grpc", undefined, 100, silentLogger),
      );
      expect(total).toBe(bytes.byteLength);
    }
  });

  it("refuses an enveloped message whose declared length is over the limit, even split mid-header", async () => {
    const bytes = concat(envelope(10), envelope(101));
    for (const size of [1, 2, 13, 4096]) {
      const error = await refusal(
        limitRequestBody(chunked(bytes, size), "application/grpc+proto", undefined, 100, silentLogger),
      );
      expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("resource_exhausted");
      expect(error.rawMessage).toContain("101 bytes");
    }
  });

  it("refuses a Connect unary body by its content-length before reading it", async () => {
    let pulled = false;
    async function* body() {
      pulled = true;
      yield new Uint8Array(10);
    }
    const error = await refusal(limitRequestBody(body(), "application/proto", "500", 100, silentLogger));
    expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("resource_exhausted");
    expect(pulled).toBe(false);
  });

  it("refuses a Connect unary body without content-length once it counts past the limit", async () => {
    const error = await refusal(
      limitRequestBody(chunked(new Uint8Array(150), 40), "application/json", undefined, 100, silentLogger),
    );
    expect(error.rawMessage).toContain("more than 100 bytes");
    const total = await drain(
      limitRequestBody(chunked(new Uint8Array(100), 40), "application/json", undefined, 100, silentLogger),
    );
    expect(total).toBe(100);
  });
});
