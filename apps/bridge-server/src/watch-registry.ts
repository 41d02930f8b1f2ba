import type { StateError } from "@statebridge/state-provider";

/**
 * The server's open long-lived streams (watches and health watches), so that a shutdown can
 * end each of them with a clean status instead of leaving them to be cut.
 */
export interface StreamRegistry {
  /** Streams open now. */
  readonly size: number;
  /**
   * Registers a stream's way to end itself.
   * @returns a function that unregisters it; call it when the stream ends for any reason.
   */
  add(end: (error: StateError) => void): () => void;
  /** Ends every open stream with `error`; streams added afterwards are ended at once. */
  endAll(error: StateError): void;
}

/** Creates an empty {@link StreamRegistry}. */
export function createStreamRegistry(): StreamRegistry {
  const streams = new Set<(error: StateError) => void>();
  let closedWith: StateError | undefined;
  return {
    get size() {
      return streams.size;
    },
    add(end) {
      if (closedWith !== undefined) {
        end(closedWith);
        return () => {};
      }
      streams.add(end);
      return () => {
        streams.delete(end);
      };
    },
    endAll(error) {
      closedWith = error;
      for (const end of [...streams]) end(error);
      streams.clear();
    },
  };
}
