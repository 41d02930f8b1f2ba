import type { CallError } from "./client.js";

/** A server's error as its statebridge code and message; announced to screen readers. */
export function ErrorLine(props: { readonly error: CallError | undefined }) {
  if (props.error === undefined) return null;
  return (
    <p class="error" role="alert">
      <code>{props.error.code}</code>: {props.error.message}
    </p>
  );
}
