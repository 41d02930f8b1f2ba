import { fromJson } from "@bufbuild/protobuf";
import { ImportSessionRequestSchema, type Session } from "@statebridge/proto";
import { useEffect, useState } from "preact/hooks";
import { type BridgeClient, type CallError, callErrorOf } from "./client.js";
import { ErrorLine } from "./error-line.js";
import { formatTime, sessionHref } from "./format.js";

const PAGE_SIZE = 50;

/** The sessions the server holds, a page at a time, filtered by id prefix; and the import form. */
export function SessionsView(props: {
  readonly client: BridgeClient;
  readonly onError: (error: CallError) => void;
}) {
  const { client, onError } = props;
  const [prefix, setPrefix] = useState("");
  const [sessions, setSessions] = useState<Session[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState<CallError | undefined>();
  const [loading, setLoading] = useState(false);

  const load = async (pageToken: string, append: boolean) => {
    setLoading(true);
    try {
      const page = await client.listSessions({ pageSize: PAGE_SIZE, pageToken, prefix });
      setSessions((current) => (append ? [...current, ...page.sessions] : page.sessions));
      setNext(page.nextPageToken);
      setError(undefined);
    } catch (caught) {
      const failure = callErrorOf(caught);
      setError(failure);
      onError(failure);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    load("", false);
    const timer = setInterval(() => load("", false), 5_000);
    return () => clearInterval(timer);
  }, [prefix]);

  return (
    <main>
      <h1>Sessions</h1>
      <div class="toolbar">
        <label>
          Filter by id prefix{" "}
          <input
            type="search"
            value={prefix}
            onInput={(event) => setPrefix(event.currentTarget.value)}
            placeholder="e.g. run-"
          />
        </label>
        <button type="button" onClick={() => load("", false)} disabled={loading}>
          Refresh
        </button>
      </div>
      <ErrorLine error={error} />
      <table>
        <caption class="visually-hidden">Sessions on this server</caption>
        <thead>
          <tr>
            <th scope="col">Session</th>
            <th scope="col">Variables</th>
            <th scope="col">Revision</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
          </tr>
        </thead>
        <tbody>
          {sessions.length === 0 ? (
            <tr>
              <td colSpan={5}>{loading ? "Loading…" : "No sessions."}</td>
            </tr>
          ) : (
            sessions.map((session) => (
              <tr key={session.sessionId}>
                <td>
                  <a href={sessionHref(session.sessionId)}>{session.sessionId}</a>
                </td>
                <td>{String(session.variableCount)}</td>
                <td>{String(session.revision)}</td>
                <td>{formatTime(Number(session.createdAtMs))}</td>
                <td>{formatTime(Number(session.expiresAtMs))}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      {next === "" ? null : (
        <button type="button" onClick={() => load(next, true)} disabled={loading}>
          Load more
        </button>
      )}
      <ImportForm client={client} />
    </main>
  );
}

/** Imports an exported session (the JSON the Export button writes) into a new session. */
function ImportForm(props: { readonly client: BridgeClient }) {
  const [sessionId, setSessionId] = useState("");
  const [document, setDocument] = useState("");
  const [error, setError] = useState<CallError | undefined>();
  const [done, setDone] = useState("");

  const submit = async (event: Event) => {
    event.preventDefault();
    setDone("");
    try {
      const parsed = JSON.parse(document) as Record<string, unknown>;
      const { exportedAtMs: _exportedAt, ...rest } = parsed;
      const request = fromJson(ImportSessionRequestSchema, { ...rest, sessionId } as never, {
        ignoreUnknownFields: true,
      });
      try {
        await props.client.getSession({ sessionId });
        setError({ code: "already_exists", message: `session "${sessionId}" exists: import into a new one` });
        return;
      } catch (caught) {
        const failure = callErrorOf(caught);
        if (failure.code !== "session_expired" && failure.code !== "not_found") throw caught;
      }
      const result = await props.client.importSession(request);
      setError(undefined);
      setDone(`Imported ${result.imported} variables into ${sessionId}.`);
    } catch (caught) {
      setError(
        caught instanceof SyntaxError
          ? { code: "invalid_export", message: caught.message }
          : callErrorOf(caught),
      );
    }
  };

  return (
    <section aria-labelledby="import-heading">
      <h2 id="import-heading">Import into a new session</h2>
      <form onSubmit={submit}>
        <label>
          New session id{" "}
          <input required value={sessionId} onInput={(event) => setSessionId(event.currentTarget.value)} />
        </label>
        <label>
          Exported JSON file{" "}
          <input
            type="file"
            accept="application/json,.json"
            onChange={async (event) => setDocument((await event.currentTarget.files?.[0]?.text()) ?? "")}
          />
        </label>
        <label class="block">
          or paste it
          <textarea rows={4} value={document} onInput={(event) => setDocument(event.currentTarget.value)} />
        </label>
        <button type="submit">Import</button>
      </form>
      <ErrorLine error={error} />
      {done === "" ? null : (
        <p role="status">
          {done} <a href={sessionHref(sessionId)}>Open it</a>
        </p>
      )}
    </section>
  );
}
