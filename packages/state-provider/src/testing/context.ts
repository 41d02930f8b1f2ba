import type { TestContext } from "vitest";
import type { Capabilities, StateProvider } from "../provider.js";

/** Makes a new provider on a new, empty session. Called once per test, and again when a test needs a second, independent session. */
export type ProviderFactory = () => Promise<StateProvider> | StateProvider;

/** Options of {@link describeStateProvider} and {@link createComplianceContext}. */
export interface ComplianceOptions {
  /**
   * Called for every provider the suite made, after the suite has closed it. Use it to remove
   * what a backend keeps beyond `close()` (a remote session, files). Default: nothing.
   */
  readonly cleanup?: (provider: StateProvider) => Promise<void> | void;
  /**
   * Opens another provider on the same session as `first` (another client of the same
   * bridge session, for example). Needed when the backend declares `capabilities.distribution`:
   * the distribution tests use it and fail if it is missing. The suite closes what it returns.
   */
  readonly makeSecond?: (first: StateProvider) => Promise<StateProvider> | StateProvider;
  /** Per-test timeout in milliseconds, also for the suite's setup and cleanup. Default 20,000. */
  readonly timeoutMs?: number;
  /**
   * How long a test waits for an expected watch event before it fails, in milliseconds.
   * Default: half of `timeoutMs`, so that the failure names the missing event rather than a
   * timeout.
   */
  readonly eventTimeoutMs?: number;
  /** Runs of each property-based test. Default 50, which a network backend also finishes quickly. */
  readonly propertyRuns?: number;
  /** The `source` the provider writes under. Default `"typescript"`. */
  readonly source?: string;
}

/**
 * What every group of the compliance suite is given: the factory and the resolved options,
 * plus the means to open providers that the suite closes and cleans up after each test.
 */
export interface ComplianceContext {
  /** The backend's name, as given to {@link describeStateProvider}. */
  readonly name: string;
  readonly timeoutMs: number;
  readonly eventTimeoutMs: number;
  readonly propertyRuns: number;
  readonly source: string;
  /**
   * Opens a provider on a new, empty session for the running test. The suite closes it (and
   * runs `cleanup`) when the test finishes, whatever its outcome.
   */
  open(test: TestContext): Promise<StateProvider>;
  /**
   * Opens a second provider on the session of `first` through `options.makeSecond`; closed
   * when the test finishes.
   * @throws if `makeSecond` was not given.
   */
  openSecond(test: TestContext, first: StateProvider): Promise<StateProvider>;
  /**
   * Skips the running test unless the provider declares `capability`. The only way the suite
   * skips anything.
   */
  requires(test: TestContext, provider: StateProvider, capability: keyof Capabilities): void;
}

/** The default per-test timeout, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** The default number of runs of each property-based test. */
export const DEFAULT_PROPERTY_RUNS = 50;

/**
 * Builds the context every group of the suite takes. {@link describeStateProvider} does this;
 * call it directly only to run one group on its own.
 */
export function createComplianceContext(
  name: string,
  factory: ProviderFactory,
  options: ComplianceOptions = {},
): ComplianceContext {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const eventTimeoutMs = options.eventTimeoutMs ?? Math.floor(timeoutMs / 2);
  const propertyRuns = options.propertyRuns ?? DEFAULT_PROPERTY_RUNS;
  const source = options.source ?? "typescript";

  const release = async (provider: StateProvider, clean: boolean): Promise<void> => {
    await provider.close();
    if (clean && options.cleanup !== undefined) await options.cleanup(provider);
  };

  return {
    name,
    timeoutMs,
    eventTimeoutMs,
    propertyRuns,
    source,
    async open(test) {
      const provider = await factory();
      test.onTestFinished(() => release(provider, true), timeoutMs);
      return provider;
    },
    async openSecond(test, first) {
      if (options.makeSecond === undefined) {
        throw new Error(
          `${name} declares capabilities.distribution, so the compliance suite needs options.makeSecond ` +
            "to open a second provider on the same session",
        );
      }
      const second = await options.makeSecond(first);
      // The session belongs to the first provider, whose cleanup removes it.
      test.onTestFinished(() => release(second, false), timeoutMs);
      return second;
    },
    requires(test, provider, capability) {
      test.skip(
        provider.capabilities[capability] !== true,
        `${name} does not declare capabilities.${capability}`,
      );
    },
  };
}
