// gRPC server reflection (issue 12, §5): grpc.reflection.v1 and v1alpha answer from the
// protobuf-es descriptors, on every path that carries a bidirectional stream, behind the token,
// bounded per message, per stream and in time; `buf curl` lists and calls methods with no schema.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ERROR_CODE_TRAILER } from "@statebridge/grpc-wire";
import {
  type ServerReflectionRequestV1Schema,
  type ServerReflectionResponseV1,
  ServerReflectionV1,
  ServerReflectionV1alpha,
} from "@statebridge/proto";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine, UsageError } from "../src/cli-options.js";
import { startTestServer, type TestServer } from "./support.js";

type Request = MessageInitShape<typeof ServerReflectionRequestV1Schema>;

// The shared test support of state-bridged lies outside this package's rootDir: it is imported
// by path, with the types this file uses.
interface WirePath {
  readonly name: string;
  readonly direct: boolean;
  createTransport(baseUrl: string, token?: string): Transport;
}
interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}
const supportPath = (file: string) =>
  fileURLToPath(new URL(`../../../packages/state-bridged/test/support/${file}`, import.meta.url));
const { WIRE_PATHS } = (await import(supportPath("wire-paths.ts"))) as {
  readonly WIRE_PATHS: readonly WirePath[];
};
const { startServerProcess } = (await import(supportPath("server-process.ts"))) as {
  startServerProcess(args: readonly string[]): Promise<ServerProcess>;
};

/** Bidirectional streams need HTTP/2: over HTTP/1.1 connect answers 505 for any of them. */
const BIDI_PATHS = WIRE_PATHS.filter((path) => !path.name.includes("http/1.1"));
const BUF = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url));
const run = promisify(execFile);
const STATEBRIDGE_FILE = "statebridge/v1/statebridge.proto";

let test: TestServer | undefined;
afterEach(async () => {
  await test?.close();
  test = undefined;
});

async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  test = await startTestServer(options);
  return test;
}

/** Sends `requests` on one v1 reflection stream and collects the answers. */
async function reflect(
  transport: Transport,
  requests: readonly Request[],
): Promise<ServerReflectionResponseV1[]> {
  const responses: ServerReflectionResponseV1[] = [];
  async function* send() {
    yield* requests;
  }
  for await (const response of createClient(ServerReflectionV1, transport).serverReflectionInfo(send())) {
    responses.push(response);
  }
  return responses;
}

/** The names of the files of a file_descriptor_response. */
function fileNames(response: ServerReflectionResponseV1 | undefined): string[] {
  expect(response?.messageResponse.case).toBe("fileDescriptorResponse");
  if (response?.messageResponse.case !== "fileDescriptorResponse") return [];
  return response.messageResponse.value.fileDescriptorProto.map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );
}

function errorOf(response: ServerReflectionResponseV1 | undefined): {
  errorCode: number;
  errorMessage: string;
} {
  expect(response?.messageResponse.case).toBe("errorResponse");
  if (response?.messageResponse.case !== "errorResponse") return { errorCode: -1, errorMessage: "" };
  return response.messageResponse.value;
}

/** The error a stream ended with, and the answers before it. */
async function endingOf(
  transport: Transport,
  requests: AsyncIterable<Request>,
): Promise<{ answers: number; error: ConnectError }> {
  let answers = 0;
  try {
    for await (const _ of createClient(ServerReflectionV1, transport).serverReflectionInfo(requests))
      answers++;
  } catch (error) {
    return { answers, error: ConnectError.from(error) };
  }
  throw new Error(`the stream ended without an error after ${answers} answers`);
}

const ask = {
  listServices: { messageRequest: { case: "listServices", value: "" } },
  file: (name: string) => ({ messageRequest: { case: "fileByFilename", value: name } }),
  symbol: (name: string) => ({ messageRequest: { case: "fileContainingSymbol", value: name } }),
} satisfies Record<string, Request | ((name: string) => Request)>;

describe("gRPC server reflection", () => {
  for (const path of BIDI_PATHS) {
    it(`answers list_services, file_by_filename and file_containing_symbol (${path.name})`, async () => {
      const server = await start();
      const responses = await reflect(path.createTransport(server.server.url), [
        { host: "example", ...ask.listServices },
        ask.file(STATEBRIDGE_FILE),
        ask.symbol("statebridge.v1.BridgeService"),
        ask.symbol("statebridge.v1.BridgeService.SetVariable"),
        ask.symbol("statebridge.v1.SetVariableRequest"),
        ask.symbol("grpc.health.v1.HealthCheckResponse.ServingStatus"),
        ask.symbol("grpc.reflection.v1alpha.ServerReflection"),
      ]);
      expect(responses).toHaveLength(7);
      const [list, byName, service, method, message, nestedEnum, alpha] = responses;
      expect(list?.validHost).toBe("example");
      expect(list?.originalRequest?.messageRequest.case).toBe("listServices");
      expect(list?.messageResponse).toMatchObject({
        case: "listServicesResponse",
        value: {
          service: [
            { name: "statebridge.v1.BridgeService" },
            { name: "grpc.health.v1.Health" },
            { name: "grpc.reflection.v1.ServerReflection" },
            { name: "grpc.reflection.v1alpha.ServerReflection" },
          ],
        },
      });
      expect(fileNames(byName)).toEqual([STATEBRIDGE_FILE]);
      // The file asked for is sent whether or not the stream had it before.
      expect(fileNames(service)).toEqual([STATEBRIDGE_FILE]);
      expect(fileNames(method)).toEqual([STATEBRIDGE_FILE]);
      expect(fileNames(message)).toEqual([STATEBRIDGE_FILE]);
      expect(fileNames(nestedEnum)).toEqual(["grpc/health/v1/health.proto"]);
      expect(fileNames(alpha)).toEqual(["grpc/reflection/v1alpha/reflection.proto"]);
    });
  }

  it("sends the file descriptors protobuf-es generated, json names and services included", async () => {
    const server = await start();
    const [response] = await reflect(createGrpcTransport({ baseUrl: server.server.url }), [
      ask.file(STATEBRIDGE_FILE),
    ]);
    if (response?.messageResponse.case !== "fileDescriptorResponse") throw new Error("no files");
    const file = fromBinary(
      FileDescriptorProtoSchema,
      response.messageResponse.value.fileDescriptorProto[0]!,
    );
    expect(file.package).toBe("statebridge.v1");
    const service = file.service.find((candidate) => candidate.name === "BridgeService");
    expect(service?.method.find((method) => method.name === "WatchStream")).toMatchObject({
      inputType: ".statebridge.v1.WatchStreamRequest",
      clientStreaming: true,
      serverStreaming: true,
    });
    const ping = file.messageType.find((message) => message.name === "PingResponse");
    expect(ping?.field.find((field) => field.name === "server_time_ms")?.jsonName).toBe("serverTimeMs");
  });

  it("answers NOT_FOUND for unknown files, symbols and extensions, and the stream goes on", async () => {
    const server = await start();
    const responses = await reflect(createGrpcTransport({ baseUrl: server.server.url }), [
      ask.file("other/v1/other.proto"),
      ask.symbol("statebridge.v1.NoSuchMessage"),
      ask.symbol("statebridge.v1.BridgeService.NoSuchMethod"),
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "statebridge.v1.PingRequest", extensionNumber: 100 },
        },
      },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "statebridge.v1.NoSuchMessage" } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "statebridge.v1.PingRequest" } },
      {},
      ask.listServices,
    ]);
    expect(responses).toHaveLength(8);
    for (const response of responses.slice(0, 5)) expect(errorOf(response).errorCode).toBe(Code.NotFound);
    expect(errorOf(responses[1]).errorMessage).toBe(
      'symbol "statebridge.v1.NoSuchMessage" is not part of this server\'s schema',
    );
    expect(responses[5]?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "statebridge.v1.PingRequest", extensionNumber: [] },
    });
    expect(errorOf(responses[6]).errorCode).toBe(Code.InvalidArgument);
    expect(responses[7]?.messageResponse.case).toBe("listServicesResponse");
  });

  it("answers on v1alpha as on v1", async () => {
    const server = await start();
    const client = createClient(ServerReflectionV1alpha, createGrpcTransport({ baseUrl: server.server.url }));
    const names: string[] = [];
    async function* send() {
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "grpc.health.v1.Health" } };
    }
    for await (const response of client.serverReflectionInfo(send())) {
      if (response.messageResponse.case === "fileDescriptorResponse") {
        for (const bytes of response.messageResponse.value.fileDescriptorProto) {
          names.push(fromBinary(FileDescriptorProtoSchema, bytes).name);
        }
      }
    }
    expect(names).toEqual(["grpc/health/v1/health.proto"]);
  });

  it("needs the token like every other call, and a refused stream is answered while its client still sends", async () => {
    // Headers timeout far away: a refusal that waited for the end of the request would not come.
    const server = await start({ token: "secret", headersTimeoutMs: 3_600_000 });
    const transport = createGrpcTransport({ baseUrl: server.server.url });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* requestsHeldOpen() {
      yield ask.listServices as Request;
      await held;
    }
    try {
      const { answers, error } = await endingOf(transport, requestsHeldOpen());
      expect(answers).toBe(0);
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("unauthenticated");
    } finally {
      release();
    }
    const withToken = WIRE_PATHS[0]!.createTransport(server.server.url, "secret");
    expect((await reflect(withToken, [ask.listServices]))[0]?.messageResponse.case).toBe(
      "listServicesResponse",
    );
  });

  it("is not served with reflection off: the call is UNIMPLEMENTED", async () => {
    const server = await start({ reflection: false });
    const { error } = await endingOf(
      createGrpcTransport({ baseUrl: server.server.url }),
      (async function* () {
        yield ask.listServices as Request;
      })(),
    );
    expect(error.code).toBe(Code.Unimplemented);
  });
});

describe("reflection stream bounds", () => {
  it("a request message past 16 KiB ends the stream with resource_exhausted, before it is buffered", async () => {
    const server = await start();
    const { answers, error } = await endingOf(
      createGrpcTransport({ baseUrl: server.server.url }),
      (async function* () {
        yield ask.listServices as Request;
        yield ask.symbol("x".repeat(16 * 1024)) as Request;
      })(),
    );
    expect(answers).toBe(1);
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("resource_exhausted");
  });

  it("the request after the stream's limit ends it with resource_exhausted", async () => {
    const server = await start({ reflectionMaxRequests: 3 });
    const { answers, error } = await endingOf(
      createGrpcTransport({ baseUrl: server.server.url }),
      (async function* () {
        for (;;) yield ask.listServices as Request;
      })(),
    );
    expect(answers).toBe(3);
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toBe(
      "resource_exhausted: a reflection stream takes at most 3 requests: open another",
    );
  });

  it("a stream idle past its timeout ends with unavailable", async () => {
    const server = await start({ reflectionIdleTimeoutMs: 50 });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      const { answers, error } = await endingOf(
        createGrpcTransport({ baseUrl: server.server.url }),
        (async function* () {
          yield ask.listServices as Request;
          await held;
        })(),
      );
      expect(answers).toBe(1);
      expect(error.code).toBe(Code.Unavailable);
      expect(error.metadata.get(ERROR_CODE_TRAILER)).toBe("unavailable");
    } finally {
      release();
    }
  });

  it("shutdown ends an open reflection stream with unavailable", async () => {
    const server = await start();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let closing: Promise<void> | undefined;
    try {
      const { answers, error } = await endingOf(
        createGrpcTransport({ baseUrl: server.server.url }),
        (async function* () {
          yield ask.listServices as Request;
          // Answered: the stream is open and idle.
          await new Promise((resolve) => setImmediate(resolve));
          while (server.server.openStreams() === 0) await new Promise((resolve) => setImmediate(resolve));
          closing = server.server.close();
          await held;
        })(),
      );
      expect(answers).toBe(1);
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toBe("unavailable: server shutting down");
    } finally {
      release();
      await closing;
    }
  });
});

describe("buf curl with no local schema", () => {
  it("lists the methods over gRPC, and over gRPC-Web and Connect on HTTP/2", async () => {
    const server = await start();
    for (const protocol of ["grpc", "grpcweb", "connect"]) {
      const { stdout } = await run(BUF, [
        "curl",
        "--list-methods",
        "--protocol",
        protocol,
        "--http2-prior-knowledge",
        server.server.url,
      ]);
      const methods = stdout.trim().split("\n");
      expect(methods).toContain("statebridge.v1.BridgeService/SetVariable");
      expect(methods).toContain("statebridge.v1.BridgeService/WatchStream");
      expect(methods).toContain("grpc.health.v1.Health/Check");
      expect(methods).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    }
  });

  it("calls a method it learnt by reflection, with the token on both", async () => {
    const server = await start({ token: "secret" });
    const { stdout } = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--header",
      "authorization: Bearer secret",
      // Reflection requests carry the headers given with --header too.
      "--reflect-header",
      "*",
      "--data",
      '{"message": "hello"}',
      `${server.server.url}/statebridge.v1.BridgeService/Ping`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ message: "hello", serverVersion: expect.any(String) });
    const refused = await run(BUF, [
      "curl",
      "--list-methods",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      server.server.url,
    ]).then(
      () => undefined,
      (error: { stderr: string }) => error.stderr,
    );
    // buf words the UNAUTHENTICATED status its own way.
    expect(refused).toMatch(/not authenticated/);
  });
});

describe("--reflection and --no-reflection", () => {
  it("leave reflection on by default and turn it off with --no-reflection; both at once is a usage error", () => {
    expect(parseCommandLine([], {})).toEqual({ kind: "serve", options: {}, logLevel: "info" });
    expect(parseCommandLine(["--reflection"], {})).toEqual({ kind: "serve", options: {}, logLevel: "info" });
    expect(parseCommandLine(["--no-reflection"], {})).toMatchObject({ options: { reflection: false } });
    expect(() => parseCommandLine(["--reflection", "--no-reflection"], {})).toThrow(UsageError);
  });
});

describe("the bridge-server command", () => {
  it("serves reflection by default and not with --no-reflection", async () => {
    const listMethods = (url: string) =>
      run(BUF, ["curl", "--list-methods", "--protocol", "grpc", "--http2-prior-knowledge", url]);
    const served = await startServerProcess([]);
    try {
      expect((await listMethods(served.url)).stdout).toContain("statebridge.v1.BridgeService/Ping");
    } finally {
      await served.stop();
    }
    const off = await startServerProcess(["--no-reflection"]);
    try {
      await expect(listMethods(off.url)).rejects.toThrow(/unimplemented/i);
    } finally {
      await off.stop();
    }
  });
});
