import { randomBytes } from "node:crypto";

let pool = Buffer.alloc(0);
let offset = 0;

/**
 * Creates a new variable id: `var_` and 24 lowercase hex digits (96 random bits), so ids made
 * by different processes do not collide and survive migration unchanged.
 */
export function createVariableId(): string {
  if (offset + 12 > pool.length) {
    pool = randomBytes(12 * 256);
    offset = 0;
  }
  const id = `var_${pool.toString("hex", offset, offset + 12)}`;
  offset += 12;
  return id;
}

/** Creates a new session id: `session_` and 32 lowercase hex digits. */
export function createSessionId(): string {
  return `session_${randomBytes(16).toString("hex")}`;
}
