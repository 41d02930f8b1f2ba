export * from "./gen/grpc/health/v1/health_pb.js";
// gRPC server reflection: v1 and its deprecated first name v1alpha declare the same messages,
// so each is exported under its own names rather than by `export *`.
export type {
  ServerReflectionRequest as ServerReflectionRequestV1,
  ServerReflectionResponse as ServerReflectionResponseV1,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
export {
  file_grpc_reflection_v1_reflection,
  ServerReflection as ServerReflectionV1,
  ServerReflectionRequestSchema as ServerReflectionRequestV1Schema,
  ServerReflectionResponseSchema as ServerReflectionResponseV1Schema,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
export {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ServerReflectionV1alpha,
} from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
export * from "./gen/statebridge/v1/statebridge_pb.js";
