"""A Python watcher for the watch-history run: watches variables and prints what it sees.

Arguments: one JSON object ``{"target", "sessionId", "names", "includeInitial",
"heartbeatIntervalMs"}``. Prints one JSON line per message on stdout: ``{"ready": true}``
once the server registered the watch, ``{"event": {...}}`` per event (id, name, type,
revision, version, newValue, oldValue), ``{"revision": n}`` as the watch's revision moves,
``{"status": kind}`` per connection state change and ``{"error": code, "message"}`` when
the watch ends. Stops when stdin closes.

Run with ``/usr/bin/python3`` and ``PYTHONPATH`` naming ``clients/python/src``.
"""

from __future__ import annotations

import json
import sys
import threading

from statebridge import SessionContext, StateError
from statebridge._cursor import ReconnectPolicy, WatchStatus

_output_lock = threading.Lock()


def send(message: dict) -> None:
    line = json.dumps(message, separators=(",", ":"))
    with _output_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> None:
    options = json.loads(sys.argv[1])
    interval = options["heartbeatIntervalMs"] / 1000
    context = SessionContext(options["target"], options["sessionId"], timeout=5.0)
    watch = context.watch_variables(
        options["names"],
        include_initial=options["includeInitial"],
        heartbeat_interval=interval,
        reconnect=ReconnectPolicy(base=0.005, cap=interval, max_failures=1_000),
        on_status=lambda status: send({"status": status.kind}) if isinstance(status, WatchStatus) else None,
    )
    send({"ready": True})
    done = threading.Event()

    def read() -> None:
        try:
            for event in watch:
                send(
                    {
                        "event": {
                            "type": event.type,
                            "id": event.id,
                            "name": event.name,
                            "revision": event.revision,
                            "version": event.version,
                            "newValue": event.new_value,
                            "oldValue": event.old_value,
                        }
                    }
                )
        except StateError as error:
            send({"error": error.code, "message": str(error)})
        finally:
            done.set()

    threading.Thread(target=read, daemon=True).start()
    # Stdin closing is the signal to stop; meanwhile report the watch's revision, which
    # heartbeats move too.
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    last = None
    while not done.wait(0.02):
        if watch.revision != last:
            last = watch.revision
            send({"revision": last})
    watch.close()
    context.close()


if __name__ == "__main__":
    main()
