import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * The TCP connections this process holds open to `port` on the loopback interface, read from
 * /proc (Linux): sockets whose file descriptors this process owns and whose remote end is
 * `port`. Unlike `process.getActiveResourcesInfo()`, this also sees sockets that were unref'd.
 */
export function connectionsTo(port: number): number {
  const ownSockets = new Set<string>();
  for (const descriptor of readdirSync("/proc/self/fd")) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${descriptor}`));
      if (match?.[1] !== undefined) ownSockets.add(match[1]);
    } catch {
      // The descriptor closed while being read.
    }
  }
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let lines: string[];
    try {
      lines = readFileSync(table, "utf8").trim().split("\n").slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const remote = fields[2];
      const state = fields[3];
      const inode = fields[9];
      if (remote === undefined || inode === undefined) continue;
      const remotePort = Number.parseInt(remote.split(":")[1] ?? "", 16);
      // 01 is ESTABLISHED; a socket on its way out is not a lingering connection.
      if (remotePort === port && state === "01" && ownSockets.has(inode)) count++;
    }
  }
  return count;
}
