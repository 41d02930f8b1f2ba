import { describe, expect, it } from "vitest";
import { normalizeServerUrl } from "./transport.js";

describe("normalizeServerUrl", () => {
  it.each([
    ["127.0.0.1:50051", "http://127.0.0.1:50051"],
    ["http://127.0.0.1:50051/", "http://127.0.0.1:50051"],
    ["https://bridge.example:443", "https://bridge.example:443"],
    ["  localhost:1  ", "http://localhost:1"],
    ["[::1]:50051", "http://[::1]:50051"],
  ])("%s becomes %s", (input, expected) => {
    expect(normalizeServerUrl(input)).toBe(expected);
  });
});
