/** A wall-clock time (epoch ms) as the page shows it: local time, with the date when not today. */
export function formatTime(epochMs: number): string {
  if (epochMs <= 0) return "—";
  const date = new Date(epochMs);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? date.toLocaleTimeString() : date.toLocaleString();
}

/** The hash route of a session's page. */
export function sessionHref(sessionId: string): string {
  return `#/session/${encodeURIComponent(sessionId)}`;
}
