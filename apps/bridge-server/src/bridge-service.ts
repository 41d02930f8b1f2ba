import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type BridgeService,
  ExportSessionResponseSchema,
  GetVariablesResponseSchema,
  type Variable as ProtoVariable,
  type SetVariableRequest,
  SetVariablesResponseSchema,
} from "@statebridge/proto";
import type { SessionStore } from "@statebridge/session-store";
import {
  assertExpectedVersion,
  assertVariableName,
  assertVariableType,
  type DecodedExportedVariable,
  fromWireValue,
  isStateError,
  isVariableType,
  normalizeMetadata,
  StateError,
  type Variable,
  type VariableType,
} from "@statebridge/state-provider";
import { missingSessionId, toConnectError } from "./error-translation.js";
import { exportedValueToProto, protoValueToRaw } from "./export-conversion.js";
import { listSessionsPage } from "./inspector-sessions.js";
import type { BridgeServerLogger } from "./logger.js";
import {
  createMapObject,
  fromProtoValue,
  int64,
  jsonFieldOf,
  parseJsonField,
  toProtoSession,
  toProtoVariable,
} from "./wire-conversion.js";

/** What the unary part of `statebridge.v1.BridgeService` needs. */
export interface UnaryServiceDependencies {
  readonly store: SessionStore;
  readonly logger: BridgeServerLogger;
  /** Reported by Ping. */
  readonly serverVersion: string;
  /** Whether ListSessions is served (`--inspector`); otherwise it answers `not_found`. */
  readonly listSessions?: boolean;
}

type ConnectUnaryMethods = Omit<ServiceImpl<typeof BridgeService>, "watchVariables" | "watchStream">;

/**
 * The unary methods of `statebridge.v1.BridgeService`. They take the request alone (no
 * handler context), so that connect's router and the direct gRPC path (`grpc-fast-path.ts`)
 * call the very same functions.
 */
export type UnaryMethods = {
  readonly [Name in keyof ConnectUnaryMethods]: (
    request: Parameters<ConnectUnaryMethods[Name]>[0],
  ) => ReturnType<ConnectUnaryMethods[Name]>;
};

/** The source recorded for a write whose client named none. */
const UNKNOWN_SOURCE = "unknown";

/**
 * Implements every unary RPC of `statebridge.v1.BridgeService` on a {@link SessionStore}.
 * Each method awaits the store, and every error it throws or rejects with goes through
 * {@link toConnectError} once, in the wrapper at the bottom of this function.
 */
export function createUnaryMethods(dependencies: UnaryServiceDependencies): UnaryMethods {
  const { store, logger, serverVersion } = dependencies;

  const methods: UnaryMethods = {
    ping(request) {
      const { kind, persistence, distribution } = store.description;
      return {
        message: request.message,
        serverTimeMs: int64(Date.now()),
        serverVersion,
        storeKind: kind,
        persistence,
        distribution,
      };
    },

    async initializeSession(request) {
      const sessionId = requireSessionId(request.sessionId);
      if (request.ttlSeconds < 0) {
        throw new StateError("invalid_value", `ttl_seconds must be positive, got ${request.ttlSeconds}`);
      }
      const metadata = parseJsonField(request.metadataJson, "metadata_json");
      const { session, created } = await store.initializeSession(sessionId, {
        ...(metadata === undefined ? {} : { metadata: normalizeMetadata(metadata, "metadata_json") }),
        ...(request.ttlSeconds === 0 ? {} : { ttlSeconds: request.ttlSeconds }),
      });
      return { session: toProtoSession(session), created };
    },

    async getSession(request) {
      return { session: toProtoSession(await store.getSession(requireSessionId(request.sessionId))) };
    },

    async heartbeat(request) {
      return { session: toProtoSession(await store.heartbeat(requireSessionId(request.sessionId))) };
    },

    async cleanupSession(request) {
      return { deleted: await store.deleteSession(requireSessionId(request.sessionId)) };
    },

    listSessions(request) {
      return listSessionsPage(store, request, dependencies.listSessions === true);
    },

    async registerVariable(request) {
      const sessionId = requireSessionId(request.sessionId);
      // Checked in the order a local backend checks them, so both refuse bad input alike.
      const name = assertVariableName(request.name);
      const type = assertVariableType(request.type);
      const constraints = parseJsonField(request.constraintsJson, "constraints_json");
      const metadata = parseJsonField(request.metadataJson, "metadata_json");
      const initial = fromWireValue(type, fromProtoValue(request.initialValue), name);
      const { variable, revision } = await store.register(sessionId, name, type, initial, {
        source: sourceOf(request.source),
        ...(constraints === undefined ? {} : { constraints }),
        ...(metadata === undefined ? {} : { metadata }),
        ...(request.description === "" ? {} : { description: request.description }),
      });
      return { variable: toProtoVariable(variable), revision: int64(revision) };
    },

    // Not async: the store's promise is mapped once, without an async frame and its extra
    // promise per get (a missing session id still rejects, through the wrapper below).
    getVariable(request) {
      const sessionId = requireSessionId(request.sessionId);
      return store.getVariable(sessionId, request.identifier).then(toGetVariableResponse);
    },

    async getVariables(request) {
      const sessionId = requireSessionId(request.sessionId);
      const found = await store.getVariables(sessionId, request.identifiers);
      const variables = createMapObject<ProtoVariable>();
      const missing: string[] = [];
      const seen = new Set<string>();
      for (const identifier of request.identifiers) {
        if (seen.has(identifier)) continue;
        seen.add(identifier);
        const variable = found.get(identifier);
        if (variable === undefined) missing.push(identifier);
        else variables[identifier] = toProtoVariable(variable);
      }
      const response = create(GetVariablesResponseSchema, { missing });
      // Assigned after create(), which would copy the map into an object with a prototype.
      response.variables = variables;
      return response;
    },

    async setVariable(request) {
      const sessionId = requireSessionId(request.sessionId);
      // The store decodes the wire value with the type of the variable it writes (one store
      // call: no read of the type first), before its other checks.
      const decode = (type: VariableType) =>
        fromWireValue(type, fromProtoValue(request.value), request.identifier);
      let options: SetOptions;
      try {
        options = setOptionsOf(request);
      } catch (error) {
        // What is wrong with the value is reported first, as ever: read its type to find out.
        decode((await store.getVariable(sessionId, request.identifier)).type);
        throw error;
      }
      const { version, revision } = await store.set(sessionId, request.identifier, decode, options);
      return { version: int64(version), revision: int64(revision) };
    },

    async setVariables(request) {
      const sessionId = requireSessionId(request.sessionId);
      const metadata = parseJsonField(request.metadataJson, "metadata_json");
      const options = {
        source: sourceOf(request.source),
        atomic: request.atomic,
        ...(metadata === undefined ? {} : { metadata }),
      };
      // Each value is decoded by the store with its variable's type (see setVariable), failures
      // in request order as before: an atomic batch's first, or each one of another batch.
      const updates = request.updates.map(
        (update) =>
          [
            update.identifier,
            (type: VariableType) => fromWireValue(type, fromProtoValue(update.value), update.identifier),
          ] as const,
      );
      try {
        const { revision, versions } = await store.updateMany(sessionId, updates, options);
        return setVariablesResponse(revision, versions);
      } catch (error) {
        if (isStateError(error, "partial_failure")) {
          throw toConnectError(error, logger, { revision: (await store.getSession(sessionId)).revision });
        }
        throw error;
      }
    },

    async listVariables(request) {
      const sessionId = requireSessionId(request.sessionId);
      return { variables: (await store.list(sessionId, request.pattern)).map(toProtoVariable) };
    },

    async deleteVariable(request) {
      const sessionId = requireSessionId(request.sessionId);
      const { revision } = await store.delete(sessionId, request.identifier, {
        source: sourceOf(request.source),
      });
      return { revision: int64(revision) };
    },

    async exportSession(request) {
      const document = await store.exportSession(requireSessionId(request.sessionId));
      return create(ExportSessionResponseSchema, {
        sessionId: document.sessionId,
        revision: int64(document.revision),
        metadataJson: jsonFieldOf(document.metadata),
        exportedAtMs: int64(document.exportedAt),
        variables: document.variables.map((variable) => ({
          id: variable.id,
          name: variable.name,
          type: variable.type,
          value: { kind: exportedValueToProto(variable.type, variable.value) },
          constraintsJson: jsonFieldOf(variable.constraints),
          metadataJson: jsonFieldOf(variable.metadata),
          version: int64(variable.version),
          createdAtMs: int64(variable.createdAt),
          updatedAtMs: int64(variable.updatedAt),
          source: variable.source,
        })),
      });
    },

    async importSession(request) {
      const sessionId = requireSessionId(request.sessionId);
      // Every problem of an import is an invalid export, named by its path in the request.
      // Values are decoded from the wire and validated by the store once, in importVariables.
      const variables: DecodedExportedVariable[] = [];
      const received = request.variables;
      for (let index = 0; index < received.length; index++) {
        const variable = received[index] as ProtoVariable;
        variables.push({
          id: variable.id,
          name: variable.name,
          type: variable.type,
          value: isVariableType(variable.type)
            ? protoValueToRaw(variable.type, variable.value, `variables[${index}].value`)
            : null,
          constraints:
            variable.constraintsJson === ""
              ? {}
              : parseJsonField(
                  variable.constraintsJson,
                  `variables[${index}].constraints_json`,
                  "invalid_export",
                ),
          metadata:
            variable.metadataJson === ""
              ? undefined
              : parseJsonField(variable.metadataJson, `variables[${index}].metadata_json`, "invalid_export"),
          version: Number(variable.version),
          createdAt: Number(variable.createdAtMs),
          updatedAt: Number(variable.updatedAtMs),
          source: variable.source,
        });
      }
      const { revision, imported } = await store.importVariables(sessionId, {
        revision: Number(request.revision),
        metadata: parseJsonField(request.metadataJson, "metadata_json", "invalid_export") ?? {},
        variables,
      });
      return { revision: int64(revision), imported: int64(imported) };
    },
  };

  return translateErrors(methods, logger);
}

function requireSessionId(sessionId: string): string {
  if (sessionId === "") throw missingSessionId();
  return sessionId;
}

function sourceOf(source: string): string {
  return source === "" ? UNKNOWN_SOURCE : source;
}

type SetOptions = NonNullable<Parameters<SessionStore["set"]>[3]>;

/**
 * A SetVariable's write options, checked as the store would check them (metadata JSON, then
 * expected version, then metadata), so that a caller can report the value's problems first.
 */
function setOptionsOf(request: SetVariableRequest): SetOptions {
  const metadata = parseJsonField(request.metadataJson, "metadata_json");
  const expectedVersion =
    request.expectedVersion === undefined
      ? undefined
      : assertExpectedVersion(Number(request.expectedVersion));
  if (metadata !== undefined) normalizeMetadata(metadata);
  return {
    source: sourceOf(request.source),
    ...(metadata === undefined ? {} : { metadata }),
    ...(expectedVersion === undefined ? {} : { expectedVersion }),
  };
}

function setVariablesResponse(revision: number, versions: ReadonlyMap<string, number>) {
  const map = createMapObject<bigint>();
  for (const [identifier, version] of versions) map[identifier] = int64(version);
  const response = create(SetVariablesResponseSchema, { revision: int64(revision) });
  response.versions = map;
  return response;
}

function toGetVariableResponse(variable: Variable) {
  return { variable: toProtoVariable(variable) };
}

/**
 * Wraps each method so that what it throws or rejects with reaches the client through the
 * one seam. Each wrapped method returns a promise; not an async function, whose frame and
 * await cost every call a promise and a microtask more.
 */
function translateErrors(methods: UnaryMethods, logger: BridgeServerLogger): UnaryMethods {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(methods) as [string, (request: unknown) => unknown][]) {
    const translate = (error: unknown): never => {
      throw toConnectError(error, logger, { procedure: name });
    };
    wrapped[name] = (request: unknown) => {
      let result: unknown;
      try {
        result = method(request);
      } catch (error) {
        return Promise.reject(toConnectError(error, logger, { procedure: name }));
      }
      return Promise.resolve(result).then(undefined, translate);
    };
  }
  return wrapped as UnaryMethods;
}
