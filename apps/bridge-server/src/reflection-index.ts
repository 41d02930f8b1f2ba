import type { DescService } from "@bufbuild/protobuf";
import {
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * The schema a server reflects: its services, the files that declare them and those files'
 * transitive dependencies, looked up as the gRPC reflection protocol asks.
 */
export interface ReflectionIndex {
  /** The fully-qualified names of the services served, in the order given. */
  readonly serviceNames: readonly string[];
  /** The file named so (`statebridge/v1/statebridge.proto`), if it is part of the schema. */
  fileByName(name: string): DescFile | undefined;
  /**
   * The file that declares a fully-qualified symbol: a service, a method
   * (`package.Service.Method`), a message or an enum (nested ones included), or an extension.
   */
  fileContainingSymbol(symbol: string): DescFile | undefined;
  /** The file that declares the extension `number` of message `typeName`. */
  fileContainingExtension(typeName: string, number: number): DescFile | undefined;
  /** The extension numbers of message `typeName`; `undefined` if no such message is known. */
  extensionNumbersOf(typeName: string): readonly number[] | undefined;
  /**
   * `file` and, breadth first, those of its transitive dependencies not in `sent`, each as a
   * serialized `google.protobuf.FileDescriptorProto`; adds them to `sent`. The file asked for
   * is always included, as gRPC's own servers do.
   */
  withDependencies(file: DescFile, sent: Set<DescFile>): Uint8Array[];
}

/**
 * Indexes the files of `services` (protobuf-es descriptors, as generated code exports them)
 * and their dependencies. Each file is serialized once, on first use.
 */
export function createReflectionIndex(services: readonly DescService[]): ReflectionIndex {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Map<string, DescMessage>();
  const extensions = new Map<string, DescExtension[]>();
  const encoded = new Map<DescFile, Uint8Array>();

  const addExtension = (extension: DescExtension): void => {
    symbols.set(extension.typeName, extension.file);
    const known = extensions.get(extension.extendee.typeName);
    if (known === undefined) extensions.set(extension.extendee.typeName, [extension]);
    else known.push(extension);
  };
  const addEnum = (descriptor: DescEnum): void => {
    symbols.set(descriptor.typeName, descriptor.file);
  };
  const addMessage = (message: DescMessage): void => {
    symbols.set(message.typeName, message.file);
    messages.set(message.typeName, message);
    message.nestedMessages.forEach(addMessage);
    message.nestedEnums.forEach(addEnum);
    message.nestedExtensions.forEach(addExtension);
  };
  const addFile = (file: DescFile): void => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const service of file.services) {
      symbols.set(service.typeName, file);
      for (const method of service.methods) symbols.set(`${service.typeName}.${method.name}`, file);
    }
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    file.extensions.forEach(addExtension);
    file.dependencies.forEach(addFile);
  };
  for (const service of services) addFile(service.file);

  const encode = (file: DescFile): Uint8Array => {
    let bytes = encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      encoded.set(file, bytes);
    }
    return bytes;
  };

  return {
    serviceNames: Object.freeze(services.map((service) => service.typeName)),
    fileByName: (name) => files.get(name),
    fileContainingSymbol: (symbol) => symbols.get(symbol),
    fileContainingExtension: (typeName, number) =>
      extensions.get(typeName)?.find((extension) => extension.number === number)?.file,
    extensionNumbersOf: (typeName) =>
      messages.has(typeName)
        ? (extensions.get(typeName) ?? []).map((extension) => extension.number)
        : undefined,
    withDependencies(file, sent) {
      const answer: Uint8Array[] = [];
      const queue: DescFile[] = [file];
      const seen = new Set<DescFile>();
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (seen.has(next)) continue;
        seen.add(next);
        if (next === file || !sent.has(next)) {
          sent.add(next);
          answer.push(encode(next));
        }
        queue.push(...next.dependencies);
      }
      return answer;
    },
  };
}
