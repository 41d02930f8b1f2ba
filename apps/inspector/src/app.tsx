import { useEffect, useMemo, useState } from "preact/hooks";
import { type CallError, callErrorOf, createBridgeClient, storedToken, storeToken } from "./client.js";
import { ErrorLine } from "./error-line.js";
import { SessionView } from "./session-view.js";
import { SessionsView } from "./sessions-view.js";

/** The route of the hash: the sessions list, or one session. */
function routeOf(hash: string): { readonly sessionId?: string } {
  const match = /^#\/session\/(.+)$/.exec(hash);
  return match?.[1] === undefined ? {} : { sessionId: decodeURIComponent(match[1]) };
}

/**
 * The inspector: asks the server whether this tab's token (none at first) is accepted, shows
 * the sign-in form when it is not, else the sessions list or one session by the URL's hash.
 */
export function App() {
  const [token, setToken] = useState(storedToken());
  const [state, setState] = useState<"checking" | "signed-in" | "sign-in">("checking");
  const [error, setError] = useState<CallError | undefined>();
  const [hash, setHash] = useState(location.hash);
  const client = useMemo(() => createBridgeClient(token), [token]);

  useEffect(() => {
    const onHash = () => setHash(location.hash);
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    let cancelled = false;
    setState("checking");
    client.ping({ message: "inspector" }).then(
      () => {
        if (!cancelled) setState("signed-in");
      },
      (caught: unknown) => {
        if (cancelled) return;
        const failure = callErrorOf(caught);
        setError(token === "" && failure.code === "unauthenticated" ? undefined : failure);
        setState("sign-in");
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client, token]);

  const onError = (failure: CallError) => {
    if (failure.code === "unauthenticated") {
      setError(failure);
      setState("sign-in");
    }
  };
  const signOut = () => {
    storeToken("");
    setToken("");
  };
  const route = routeOf(hash);
  return (
    <>
      <header>
        <a class="brand" href="#/">
          statebridge inspector
        </a>
        {token === "" ? null : (
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      {state === "checking" ? (
        <main>
          <p role="status">Connecting…</p>
        </main>
      ) : state === "sign-in" ? (
        <SignIn
          error={error}
          onToken={(entered) => {
            storeToken(entered);
            setToken(entered);
          }}
        />
      ) : route.sessionId === undefined ? (
        <SessionsView client={client} onError={onError} />
      ) : (
        <SessionView key={route.sessionId} client={client} sessionId={route.sessionId} />
      )}
    </>
  );
}

/** The token form; the token goes to sessionStorage, never into the URL. */
function SignIn(props: { readonly error: CallError | undefined; readonly onToken: (token: string) => void }) {
  const [entered, setEntered] = useState("");
  return (
    <main>
      <h1>Sign in</h1>
      <p>This server requires its bearer token.</p>
      <form
        method="post"
        onSubmit={(event) => {
          event.preventDefault();
          props.onToken(entered);
        }}
      >
        <label>
          Token{" "}
          <input
            type="password"
            autoComplete="current-password"
            required
            value={entered}
            onInput={(event) => setEntered(event.currentTarget.value)}
          />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <ErrorLine error={props.error} />
    </main>
  );
}
