import { describeStateProvider } from "@statebridge/state-provider/testing";
import { createLocalState } from "../src/index.js";

describeStateProvider("LocalState", () => createLocalState());
