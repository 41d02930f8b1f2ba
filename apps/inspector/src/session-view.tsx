import { toJsonString } from "@bufbuild/protobuf";
import { ExportSessionResponseSchema } from "@statebridge/proto";
import { useEffect, useMemo, useReducer, useState } from "preact/hooks";
import { HistoryChart, Sparkline, TensorView } from "./charts.js";
import { type BridgeClient, type CallError, callErrorOf } from "./client.js";
import { ErrorLine } from "./error-line.js";
import { formatTime } from "./format.js";
import { type FeedEntry, type LiveStatus, SessionModel, type VariableRow } from "./session-model.js";
import { editText, valueText } from "./values.js";

/** One session: its variables kept live, their history, the event feed, edit and export. */
export function SessionView(props: { readonly client: BridgeClient; readonly sessionId: string }) {
  const model = useMemo(
    () => new SessionModel(props.client, props.sessionId),
    [props.client, props.sessionId],
  );
  const [, rerender] = useReducer((count: number, _action: undefined) => count + 1, 0);
  useEffect(() => {
    const unsubscribe = model.subscribe(() => rerender(undefined));
    model.start();
    return () => {
      unsubscribe();
      model.stop();
    };
  }, [model]);
  const rows = [...model.rows.values()];
  const numeric = rows.filter((row) => row.value.kind === "number" && row.history.length > 0);
  return (
    <main>
      <p>
        <a href="#/">← All sessions</a>
      </p>
      <h1>
        Session <code>{props.sessionId}</code>
      </h1>
      <StatusLine status={model.status} />
      <ExportButton client={props.client} sessionId={props.sessionId} />
      <h2>Variables</h2>
      <VariablesTable model={model} rows={rows} />
      <h2>History</h2>
      {numeric.length === 0 ? (
        <p>No numeric variables.</p>
      ) : (
        <div class="histories">
          {numeric.map((row) => (
            <HistoryChart key={row.id} name={row.name} history={row.history} />
          ))}
        </div>
      )}
      <h2 id="feed-heading">Events</h2>
      <Feed entries={model.feed} />
    </main>
  );
}

function StatusLine(props: { readonly status: LiveStatus }) {
  const { status } = props;
  let text: string;
  switch (status.state) {
    case "connecting":
      text = "Connecting…";
      break;
    case "live":
      text = `Live · revision ${status.revision}`;
      break;
    case "reconnecting":
      text = `Reconnecting (attempt ${status.attempt}, in ${(status.delayMs / 1000).toFixed(1)} s): ${status.error.code}: ${status.error.message}`;
      break;
    case "expired":
      text = `Session expired: ${status.error.message}. Nothing more will arrive.`;
      break;
    default:
      text = `Stopped: ${status.error.code}: ${status.error.message}`;
  }
  return (
    <p class={`status status-${status.state}`} role="status" data-state={status.state}>
      {text}
    </p>
  );
}

function ExportButton(props: { readonly client: BridgeClient; readonly sessionId: string }) {
  const [error, setError] = useState<CallError | undefined>();
  const exportSession = async () => {
    try {
      const exported = await props.client.exportSession({ sessionId: props.sessionId });
      const json = toJsonString(ExportSessionResponseSchema, exported, { prettySpaces: 2 });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
      link.download = `${props.sessionId}.json`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      setError(undefined);
    } catch (caught) {
      setError(callErrorOf(caught));
    }
  };
  return (
    <div class="toolbar">
      <button type="button" onClick={exportSession}>
        Export JSON
      </button>
      <ErrorLine error={error} />
    </div>
  );
}

function VariablesTable(props: { readonly model: SessionModel; readonly rows: readonly VariableRow[] }) {
  return (
    <table class="variables">
      <caption class="visually-hidden">Variables of this session</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Value</th>
          <th scope="col">Constraints</th>
          <th scope="col">Version</th>
          <th scope="col">Source</th>
          <th scope="col">Updated</th>
          <th scope="col">Edit</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.length === 0 ? (
          <tr>
            <td colSpan={8}>No variables yet.</td>
          </tr>
        ) : (
          props.rows.map((row) => <VariableLine key={row.id} model={props.model} row={row} />)
        )}
      </tbody>
    </table>
  );
}

function VariableLine(props: { readonly model: SessionModel; readonly row: VariableRow }) {
  const { row, model } = props;
  const [editing, setEditing] = useState(false);
  return (
    <>
      <tr data-variable={row.name} class={row.deleted ? "deleted" : undefined}>
        <th scope="row">{row.name}</th>
        <td>{row.type}</td>
        <td class="value" data-testid={`value-${row.name}`}>
          {row.deleted ? <em>deleted</em> : <ValueCell row={row} />}
        </td>
        <td>
          <Constraints row={row} />
        </td>
        <td data-testid={`version-${row.name}`}>{row.version}</td>
        <td>{row.source}</td>
        <td>{formatTime(row.updatedAt)}</td>
        <td>
          {row.deleted ? null : (
            <button type="button" aria-expanded={editing} onClick={() => setEditing(!editing)}>
              {editing ? "Close" : "Edit"}
              <span class="visually-hidden"> {row.name}</span>
            </button>
          )}
        </td>
      </tr>
      {editing ? (
        <tr>
          <td colSpan={8}>
            <EditForm model={model} row={row} onDone={() => setEditing(false)} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function ValueCell(props: { readonly row: VariableRow }) {
  const { value, name } = props.row;
  if (value.kind === "vector") {
    return (
      <span>
        <Sparkline values={value.value} label={`embedding ${name}`} /> {value.value.length} dimensions
      </span>
    );
  }
  if (value.kind === "tensor") return <TensorView shape={value.shape} data={value.data} />;
  return <span>{valueText(value)}</span>;
}

function Constraints(props: { readonly row: VariableRow }) {
  if (props.row.constraints === "" || props.row.constraints === "{}") return <span class="muted">none</span>;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(props.row.constraints) as Record<string, unknown>;
  } catch {
    return <code>{props.row.constraints}</code>;
  }
  const choices = Array.isArray(parsed.choices) ? (parsed.choices as unknown[]) : undefined;
  return (
    <span>
      {choices === undefined ? null : (
        <span>
          choices:{" "}
          {choices.map((choice) => (
            <span key={String(choice)} class={choice === chosenOf(props.row) ? "choice chosen" : "choice"}>
              {String(choice)}
            </span>
          ))}
        </span>
      )}
      {Object.entries(parsed)
        .filter(([key]) => key !== "choices")
        .map(([key, value]) => (
          <span key={key} class="constraint">
            {key}: {JSON.stringify(value)}
          </span>
        ))}
    </span>
  );
}

function chosenOf(row: VariableRow): unknown {
  return row.value.kind === "text" ? row.value.value : undefined;
}

function EditForm(props: {
  readonly model: SessionModel;
  readonly row: VariableRow;
  readonly onDone: () => void;
}) {
  const { row, model } = props;
  const [text, setText] = useState(editText(row.value));
  const [expected] = useState(row.version);
  const [error, setError] = useState<CallError | undefined>();
  const [busy, setBusy] = useState(false);
  const inputId = `edit-${row.id}`;
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const failure = await model.set({ ...row, version: expected }, text);
    setBusy(false);
    setError(failure);
    if (failure === undefined) props.onDone();
  };
  return (
    <form class="edit" onSubmit={submit}>
      <label for={inputId}>
        New value of {row.name} ({row.type})
      </label>
      {row.type === "boolean" ? (
        <select id={inputId} value={text} onChange={(event) => setText(event.currentTarget.value)}>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
      ) : (
        // biome-ignore lint/a11y/noAutofocus: the form opens on the user's request
        <input id={inputId} autoFocus value={text} onInput={(event) => setText(event.currentTarget.value)} />
      )}
      <span class="muted">expected version {expected}</span>
      <button type="submit" disabled={busy}>
        Set
      </button>
      <ErrorLine error={error} />
    </form>
  );
}

function Feed(props: { readonly entries: readonly FeedEntry[] }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard to scroll it
    <ol class="feed" aria-labelledby="feed-heading" aria-live="polite" tabIndex={0}>
      {props.entries.map((entry) => (
        <li key={entry.key} class={`feed-${entry.kind}`} data-revision={entry.revision}>
          <span class="muted">{formatTime(entry.time)}</span>{" "}
          {entry.kind === "status" ? (
            <strong>{entry.text}</strong>
          ) : (
            <>
              <strong>revision {entry.revision}</strong> · {entry.source}{" "}
              {entry.text === "" ? "" : `· ${entry.text}`}
              <ul>
                {entry.items.map((item) => (
                  <li key={item.name}>
                    {item.name}: {item.change}
                  </li>
                ))}
              </ul>
            </>
          )}
        </li>
      ))}
    </ol>
  );
}
