export * from "./gen/statebridge/v1/statebridge_pb.js";
