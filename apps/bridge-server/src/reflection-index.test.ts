import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_duration,
  file_google_protobuf_timestamp,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createReflectionIndex } from "./reflection-index.js";

/** `a/v1/a.proto`: service Clock with method Now(Tick) returns (Tick); Tick imports Timestamp and Duration. */
function clockService() {
  const set = create(FileDescriptorSetSchema, {
    file: [
      file_google_protobuf_timestamp.proto,
      file_google_protobuf_duration.proto,
      {
        name: "a/v1/a.proto",
        package: "a.v1",
        syntax: "proto3",
        dependency: ["google/protobuf/timestamp.proto", "google/protobuf/duration.proto"],
        messageType: [
          {
            name: "Tick",
            field: [
              {
                name: "at",
                number: 1,
                type: Type.MESSAGE,
                label: Label.OPTIONAL,
                typeName: ".google.protobuf.Timestamp",
              },
              {
                name: "every",
                number: 2,
                type: Type.MESSAGE,
                label: Label.OPTIONAL,
                typeName: ".google.protobuf.Duration",
              },
            ],
            nestedType: [{ name: "Inner" }],
            enumType: [{ name: "Kind", value: [{ name: "KIND_UNSPECIFIED", number: 0 }] }],
          },
        ],
        service: [
          { name: "Clock", method: [{ name: "Now", inputType: ".a.v1.Tick", outputType: ".a.v1.Tick" }] },
        ],
      },
    ],
  });
  const service = createFileRegistry(set).getService("a.v1.Clock");
  if (service === undefined) throw new Error("no service");
  return service;
}

const names = (files: Uint8Array[]) =>
  files.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);

describe("createReflectionIndex", () => {
  it("finds the file of services, methods, messages, nested messages and enums, and of dependencies' types", () => {
    const index = createReflectionIndex([clockService()]);
    expect(index.serviceNames).toEqual(["a.v1.Clock"]);
    for (const symbol of ["a.v1.Clock", "a.v1.Clock.Now", "a.v1.Tick", "a.v1.Tick.Inner", "a.v1.Tick.Kind"]) {
      expect(index.fileContainingSymbol(symbol)?.proto.name).toBe("a/v1/a.proto");
    }
    expect(index.fileContainingSymbol("google.protobuf.Duration")?.proto.name).toBe(
      "google/protobuf/duration.proto",
    );
    expect(index.fileContainingSymbol("a.v1.Clock.Later")).toBeUndefined();
    expect(index.fileContainingSymbol("a.v1")).toBeUndefined();
    expect(index.fileByName("google/protobuf/timestamp.proto")?.proto.name).toBe(
      "google/protobuf/timestamp.proto",
    );
    expect(index.extensionNumbersOf("a.v1.Tick")).toEqual([]);
    expect(index.extensionNumbersOf("a.v1.Clock")).toBeUndefined();
    expect(index.fileContainingExtension("a.v1.Tick", 100)).toBeUndefined();
  });

  it("sends a file with the dependencies not sent before on the stream, and the file asked for always", () => {
    const index = createReflectionIndex([clockService()]);
    const file = index.fileByName("a/v1/a.proto");
    const timestamp = index.fileByName("google/protobuf/timestamp.proto");
    if (file === undefined || timestamp === undefined) throw new Error("files missing");
    const sent = new Set<typeof file>();
    expect(names(index.withDependencies(timestamp, sent))).toEqual(["google/protobuf/timestamp.proto"]);
    expect(names(index.withDependencies(file, sent))).toEqual([
      "a/v1/a.proto",
      "google/protobuf/duration.proto",
    ]);
    expect(names(index.withDependencies(file, sent))).toEqual(["a/v1/a.proto"]);
    expect(names(index.withDependencies(file, new Set()))).toEqual([
      "a/v1/a.proto",
      "google/protobuf/timestamp.proto",
      "google/protobuf/duration.proto",
    ]);
    const [encoded] = index.withDependencies(file, sent);
    expect(fromBinary(FileDescriptorProtoSchema, encoded!).dependency).toEqual([
      "google/protobuf/timestamp.proto",
      "google/protobuf/duration.proto",
    ]);
  });
});
