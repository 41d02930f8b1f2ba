"""The Python side of `pnpm demo:python`: a worker that tunes `temperature` in a session it
shares with a TypeScript program.

Each step scores the current temperature on a toy objective (best at 1.2), moves it a step to
the better side if that scores higher, and writes it back with compare-and-set, so that a
concurrent writer is never overwritten. It also watches `temperature`, to show writes from TypeScript arriving in
Python.

    PYTHONPATH=clients/python/src /usr/bin/python3 apps/demo/python/worker.py TARGET SESSION_ID [STEPS]
"""

import sys
import threading
import time

from statebridge import SessionContext, StateError


def score(temperature: float) -> float:
    """A stand-in for evaluating a program at a temperature: best at 1.2."""
    return 1.0 - (temperature - 1.2) ** 2


def log(message: str) -> None:
    print(f"[python]     {message}", flush=True)


def main() -> None:
    target, session_id = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    with SessionContext(target, session_id) as ctx:
        info = ctx.get_variable_info("temperature")
        log(f"joined session {session_id}: temperature = {info.value} (version {info.version}, written by {info.source})")

        watch = ctx.watch_variables(["temperature"], include_initial=False)

        def report_typescript_writes() -> None:
            for event in watch:
                if event.source != "python":
                    log(f"saw {event.source} set temperature to {event.new_value} (version {event.version})")

        threading.Thread(target=report_typescript_writes, daemon=True).start()

        step_size = 0.15
        for step in range(1, steps + 1):
            info = ctx.get_variable_info("temperature")
            current = info.value
            candidates = [round(min(2.0, max(0.0, current + delta)), 4) for delta in (-step_size, step_size)]
            proposal = max(candidates, key=score)
            if score(proposal) <= score(current):
                step_size /= 2
                log(f"step {step}: score({current}) = {score(current):.4f} is the best nearby; holding")
            else:
                try:
                    version = ctx.set_variable(
                        "temperature",
                        proposal,
                        metadata={"step": step, "score": round(score(proposal), 4)},
                        expected_version=info.version,
                    )
                    log(f"step {step}: score({current}) = {score(current):.4f} → wrote {proposal} (version {version})")
                except StateError as error:
                    if error.code != "version_conflict":
                        raise
                    log(f"step {step}: someone wrote first ({error.code}); reading again")
            time.sleep(0.3)
        ctx["tuning_done"] = True
        watch.close()
        log(f"done: temperature = {ctx['temperature']}")


if __name__ == "__main__":
    main()
