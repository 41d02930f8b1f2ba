import { describeOperationTelemetry } from "@statebridge/state-provider/testing";
import { createLocalState } from "../src/index.js";

describeOperationTelemetry("LocalState", "local", () => createLocalState());
