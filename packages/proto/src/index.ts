export * from "./gen/grpc/health/v1/health_pb.js";
export * from "./gen/statebridge/v1/statebridge_pb.js";
