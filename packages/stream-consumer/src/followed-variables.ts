import type { WatchEvent } from "@statebridge/state-provider";

/**
 * Which variables one watch follows. The server's first `created` tells the ids its
 * identifiers named when it started; a resume names these ids, so a variable registered later
 * under a watched name is never picked up, and events of a stream resumed by ids keep the
 * identifier as the watcher named it. A `deleted` event ends an identifier's interest for good.
 */
export class FollowedVariables {
  /** Whether the current attempt named ids (a resume) rather than the caller's identifiers. */
  resumedByIds = false;
  private readonly followedIds = new Map<string, string>();
  private readonly identifierById = new Map<string, string>();
  private readonly endedIdentifiers = new Set<string>();
  // What the current attempt named: the caller's identifiers, or on a resume the ids.
  private sentIdentifiers: readonly string[];

  constructor(private readonly identifiers: readonly string[]) {
    this.sentIdentifiers = identifiers;
  }

  /** Records the ids of the first attempt, and drops what a resume found gone ("" ids). */
  follow(ids: readonly string[]): void {
    if (ids.length !== this.sentIdentifiers.length) return;
    this.sentIdentifiers.forEach((identifier, index) => {
      const id = ids[index] as string;
      if (this.resumedByIds) {
        if (id === "")
          for (const [named, followed] of this.followedIds)
            if (followed === identifier) this.endedIdentifiers.add(named);
        return;
      }
      if (id === "") return;
      if (!this.followedIds.has(identifier)) this.followedIds.set(identifier, id);
      if (!this.identifierById.has(id)) this.identifierById.set(id, identifier);
    });
  }

  /** An event of a stream resumed by ids, with the identifier as the watcher named it. */
  asNamed(event: WatchEvent): WatchEvent {
    const identifier = this.identifierById.get(event.id);
    return identifier === undefined || identifier === event.identifier ? event : { ...event, identifier };
  }

  /** Ends the interest of every identifier that named the deleted variable. */
  deleted(id: string, identifier: string): void {
    this.endedIdentifiers.add(identifier);
    for (const [named, followed] of this.followedIds) if (followed === id) this.endedIdentifiers.add(named);
  }

  /**
   * What the next attempt names: the caller's identifiers before the watch reached a revision,
   * then the followed id of each identifier still of interest, once each.
   */
  nextIdentifiers(resuming: boolean): readonly string[] {
    if (!resuming) return this.identifiers;
    this.resumedByIds = this.followedIds.size > 0;
    const identifiers = new Set<string>();
    for (const identifier of this.identifiers) {
      if (!this.endedIdentifiers.has(identifier)) {
        identifiers.add(this.followedIds.get(identifier) ?? identifier);
      }
    }
    this.sentIdentifiers = [...identifiers];
    return this.sentIdentifiers;
  }
}
