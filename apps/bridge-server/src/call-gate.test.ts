import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createHostCheck, createTokenCheck } from "./auth.js";
import { createCallGate, type GatedRequest } from "./call-gate.js";
import { silentLogger } from "./logger.js";
import { ACCEPT_COMPRESSION } from "./request-handler.js";

const common = { acceptCompression: ACCEPT_COMPRESSION, compressMinBytes: Number.MAX_SAFE_INTEGER };

function request(headers: Record<string, string>, path = "/statebridge.v1.BridgeService/Ping"): GatedRequest {
  return { method: "POST", path, authority: headers[":authority"], headers: { ...headers } };
}

describe("the call gate's deadlines", () => {
  const gate = createCallGate({ ...common, checkHost: createHostCheck([], "127.0.0.1", silentLogger) });
  it.each([
    ["grpc-timeout", "99999999H", undefined],
    ["grpc-timeout", "2147484S", undefined],
    ["grpc-timeout", "2147483S", "2147483S"],
    ["grpc-timeout", "35792H", undefined],
    ["grpc-timeout", "2147483648m", "2147483648m"],
    ["grpc-timeout", "10S", "10S"],
    ["grpc-timeout", "not a timeout", "not a timeout"],
    ["connect-timeout-ms", "9999999999", undefined],
    ["connect-timeout-ms", "2147483647", "2147483647"],
    ["connect-timeout-ms", "2147483648", undefined],
  ])(
    "%s: %s becomes %s (past a Node timer's 2^31-1 ms: no deadline; malformed: connect's to refuse)",
    (name, value, expected) => {
      const gated = request({ [name]: value });
      expect(gate(gated)).toBeUndefined();
      expect(gated.headers[name]).toBe(expected);
    },
  );
});

describe("the call gate's host check, without a token", () => {
  const gate = createCallGate({
    ...common,
    checkHost: createHostCheck(["bridge.internal", ".corp.example"], "myhost", silentLogger),
  });
  it.each([
    "localhost:50051",
    "LOCALHOST",
    "localhost.",
    "app.localhost:1",
    "127.0.0.1:50051",
    "10.1.2.3",
    "[::1]:50051",
    "[fe80::1]",
    "myhost:50051",
    "bridge.internal:8080",
    "corp.example",
    "a.b.corp.example:1",
  ])("serves %s", (authority) => {
    expect(gate(request({ ":authority": authority }))).toBeUndefined();
  });

  it.each([
    "attacker.example",
    "attacker.example:50051",
    "localhost.attacker.example",
    "bridge.internal.evil",
  ])("refuses %s with unauthenticated", async (authority) => {
    const refusal = gate(request({ ":authority": authority, "content-type": "application/grpc" }));
    expect(refusal?.singleMessage).toBe(true);
    const response = await refusal?.response;
    expect(response?.trailer?.get("grpc-status")).toBe(String(Code.Unauthenticated));
    expect(response?.trailer?.get("statebridge-error-code")).toBe("unauthenticated");
  });

  it("serves a request without Host (not from a browser) and health checks from anywhere", () => {
    expect(gate(request({}))).toBeUndefined();
    expect(
      gate(request({ ":authority": "attacker.example" }, "/grpc.health.v1.Health/Check")),
    ).toBeUndefined();
  });

  it("serves any host with *", () => {
    const open = createCallGate({ ...common, checkHost: createHostCheck(["*"], "127.0.0.1", silentLogger) });
    expect(open(request({ ":authority": "anything.example" }))).toBeUndefined();
  });
});

describe("the call gate's token check", () => {
  const gate = createCallGate({ ...common, checkToken: createTokenCheck("secret", silentLogger) });
  it("refuses a missing or wrong token, whatever the host, and lets the right one through", () => {
    expect(
      gate(request({ ":authority": "attacker.example", authorization: "Bearer secret" })),
    ).toBeUndefined();
    expect(gate(request({ authorization: "Bearer wrong" }))).toBeDefined();
    expect(gate(request({}))).toBeDefined();
  });

  it("answers a stream at once and a single-message request at its end", () => {
    expect(gate(request({}, "/statebridge.v1.BridgeService/WatchStream"))?.singleMessage).toBe(false);
    expect(gate(request({}, "/statebridge.v1.BridgeService/WatchVariables"))?.singleMessage).toBe(false);
    expect(gate(request({}, "/no/such/path"))?.singleMessage).toBe(true);
  });

  it("writes a Connect unary refusal as connect does: the HTTP status and the code as a header", async () => {
    const response = await gate(request({ "content-type": "application/json" }))?.response;
    expect(response?.status).toBe(401);
    expect(response?.header?.get("content-type")).toBe("application/json");
    expect(response?.header?.get("statebridge-error-code")).toBe("unauthenticated");
  });
});
