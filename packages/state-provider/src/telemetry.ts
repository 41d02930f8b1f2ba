import { type Channel, channel, type TracingChannel, tracingChannel } from "node:diagnostics_channel";
import { isStateError, type StateErrorCode } from "./errors.js";
import type { StateProvider } from "./provider.js";

/**
 * The name of the tracing channel of provider operations: its channels are
 * `tracing:statebridge:operation:start`, `:end`, `:asyncStart`, `:asyncEnd` and `:error`.
 * `asyncEnd` carries exactly one {@link OperationEvent} per call, once it has settled.
 */
export const OPERATION_CHANNEL = "statebridge:operation";

/** The name of the channel of a Context's backend switches (one {@link BackendSwitchMessage} each). */
export const BACKEND_SWITCH_CHANNEL = "statebridge:backend-switch";

/** The kinds of provider that publish operation events. */
export type ProviderKind = "local" | "bridged";

/** The operations of a {@link StateProvider} that are traced: every async method. */
export const TRACED_OPERATIONS = [
  "register",
  "get",
  "getVariable",
  "set",
  "getMany",
  "updateMany",
  "list",
  "delete",
  "export",
  "import",
  "watch",
  "close",
] as const;

/** One of {@link TRACED_OPERATIONS}. */
export type OperationName = (typeof TRACED_OPERATIONS)[number];

/** What an operation's `start` and `end` messages carry: who runs what, on which session. */
export interface OperationStart {
  readonly provider: ProviderKind;
  readonly operation: OperationName;
  readonly sessionId: string;
}

/**
 * What an operation's `error`, `asyncStart` and `asyncEnd` messages carry (the same object as
 * its `start` message, completed once the call settled): its wall time, its outcome, the
 * StateError code of a failure, and the `result` or `error` that Node's tracing adds.
 */
export interface OperationEvent extends OperationStart {
  /** From the call to its settling, in milliseconds (fractional). */
  readonly durationMs: number;
  readonly outcome: "ok" | "error";
  /** The failure's StateError code; `undefined` on success or for an error that is not a StateError. */
  readonly errorCode: StateErrorCode | undefined;
  /** The operation's result (set by Node's tracing on success). */
  readonly result?: unknown;
  /** The operation's error (set by Node's tracing on failure). */
  readonly error?: unknown;
}

/** What the {@link BACKEND_SWITCH_CHANNEL} carries, once per switch attempt. */
export interface BackendSwitchMessage {
  readonly sessionId: string;
  readonly from: ProviderKind;
  readonly to: ProviderKind;
  /** Variables exported to be moved (0 if the switch failed at its export). */
  readonly variables: number;
  /** Live watches moved. */
  readonly watchers: number;
  /** Wall time of the attempt, in milliseconds. */
  readonly durationMs: number;
  readonly outcome: "ok" | "error";
  /** The failure's StateError code; `undefined` on success. */
  readonly errorCode: StateErrorCode | undefined;
  /** The step that failed (`export`, `connect`, `import`, `watchers`, `release`); `undefined` on success. */
  readonly step: string | undefined;
  /** What asked for the switch. */
  readonly reason: string;
}

/**
 * The tracing channel of provider operations. Subscribe to `operationChannel.asyncEnd` for one
 * event per completed call; APM tools may bind stores to `start`.
 */
export const operationChannel: TracingChannel<unknown, OperationEvent> = tracingChannel(OPERATION_CHANNEL);

/** The channel of a Context's backend switches. */
export const backendSwitchChannel = channel(BACKEND_SWITCH_CHANNEL) as Channel<unknown, BackendSwitchMessage>;

interface MutableOperationEvent {
  provider: ProviderKind;
  operation: OperationName;
  sessionId: string;
  durationMs: number;
  outcome: "ok" | "error";
  errorCode: StateErrorCode | undefined;
}

/** An operation with its arguments erased: every traced method takes at most four. */
type Operation = (first?: unknown, second?: unknown, third?: unknown, fourth?: unknown) => Promise<unknown>;

/**
 * Runs one operation under the tracing channel. Only called when someone listens: the event is
 * completed before Node publishes `error` and `asyncEnd`. The arguments are passed on rather
 * than captured in a closure, so that the untraced path allocates no closure context.
 */
function trace(
  provider: ProviderKind,
  operation: OperationName,
  sessionId: string,
  run: Operation,
  first?: unknown,
  second?: unknown,
  third?: unknown,
  fourth?: unknown,
): Promise<unknown> {
  const started = performance.now();
  const event: MutableOperationEvent = {
    provider,
    operation,
    sessionId,
    durationMs: 0,
    outcome: "ok",
    errorCode: undefined,
  };
  const settle = (): Promise<unknown> => {
    let pending: Promise<unknown>;
    try {
      pending = run(first, second, third, fourth);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (result) => {
        event.durationMs = performance.now() - started;
        return result;
      },
      (error: unknown) => {
        event.durationMs = performance.now() - started;
        event.outcome = "error";
        event.errorCode = isStateError(error) ? error.code : undefined;
        throw error;
      },
    );
  };
  return operationChannel.tracePromise(settle, event as OperationEvent);
}

/**
 * Makes a provider publish its operations on the {@link OPERATION_CHANNEL}, by replacing each
 * of its {@link TRACED_OPERATIONS} with one that checks `hasSubscribers` first: with nobody
 * listening, a call costs that check and allocates nothing more. Returns the provider.
 */
export function traceOperations<P extends StateProvider>(provider: P, kind: ProviderKind): P {
  // One function per operation (not one made in a loop), so that each call site stays
  // monomorphic; arguments are passed on, never captured, so nothing is allocated per call.
  const target = provider as unknown as Record<OperationName, Operation>;
  const id = provider.sessionId;
  const channel = operationChannel;
  const register = target.register.bind(provider);
  const get = target.get.bind(provider);
  const getVariable = target.getVariable.bind(provider);
  const set = target.set.bind(provider);
  const getMany = target.getMany.bind(provider);
  const updateMany = target.updateMany.bind(provider);
  const list = target.list.bind(provider);
  const remove = target.delete.bind(provider);
  const exportSession = target.export.bind(provider);
  const importSession = target.import.bind(provider);
  const watch = target.watch.bind(provider);
  const close = target.close.bind(provider);
  target.register = (a, b, c, d) =>
    channel.hasSubscribers ? trace(kind, "register", id, register, a, b, c, d) : register(a, b, c, d);
  target.get = (a, b) => (channel.hasSubscribers ? trace(kind, "get", id, get, a, b) : get(a, b));
  target.getVariable = (a, b) =>
    channel.hasSubscribers ? trace(kind, "getVariable", id, getVariable, a, b) : getVariable(a, b);
  target.set = (a, b, c) => (channel.hasSubscribers ? trace(kind, "set", id, set, a, b, c) : set(a, b, c));
  target.getMany = (a, b) =>
    channel.hasSubscribers ? trace(kind, "getMany", id, getMany, a, b) : getMany(a, b);
  target.updateMany = (a, b) =>
    channel.hasSubscribers ? trace(kind, "updateMany", id, updateMany, a, b) : updateMany(a, b);
  target.list = (a) => (channel.hasSubscribers ? trace(kind, "list", id, list, a) : list(a));
  target.delete = (a) => (channel.hasSubscribers ? trace(kind, "delete", id, remove, a) : remove(a));
  target.export = () => (channel.hasSubscribers ? trace(kind, "export", id, exportSession) : exportSession());
  target.import = (a) =>
    channel.hasSubscribers ? trace(kind, "import", id, importSession, a) : importSession(a);
  target.watch = (a, b, c) =>
    channel.hasSubscribers ? trace(kind, "watch", id, watch, a, b, c) : watch(a, b, c);
  target.close = () => (channel.hasSubscribers ? trace(kind, "close", id, close) : close());
  return provider;
}
