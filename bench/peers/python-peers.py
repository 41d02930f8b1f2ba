"""The Python row of `pnpm bench:peers`: get and set p50 through statebridge's Python client
(SessionContext, blocking) and through redis-py (Debian's python3-redis), interleaved, in one
round. Prints one JSON line: {"statebridge": {"get": ns, "set": ns}, "redis": {...}}.

    /usr/bin/python3 bench/peers/python-peers.py --statebridge HOST:PORT [--redis HOST:PORT] [--samples N]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Callable

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY / "clients" / "python" / "src"))

from statebridge import SessionContext  # noqa: E402


def p50(operation: Callable[[int], object], samples: int, warmup: int) -> float:
    for index in range(warmup):
        operation(index)
    durations = []
    for index in range(samples):
        start = time.perf_counter_ns()
        operation(index)
        durations.append(time.perf_counter_ns() - start)
    durations.sort()
    return float(durations[(len(durations) - 1) // 2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statebridge", required=True, help="host:port of a bridge-server")
    parser.add_argument("--redis", help="host:port of a redis-server (the row is skipped without it)")
    parser.add_argument("--samples", type=int, default=1000)
    arguments = parser.parse_args()
    warmup = max(10, arguments.samples // 5)
    result: dict[str, dict[str, float]] = {}
    with SessionContext(arguments.statebridge, f"python-peers-{os.getpid()}") as context:
        context.register_variable("x", "float", 0.0)
        result["statebridge"] = {
            "get": p50(lambda _: context.get_variable("x"), arguments.samples, warmup),
            "set": p50(lambda index: context.set_variable("x", float(index)), arguments.samples, warmup),
        }
    if arguments.redis is not None:
        import redis

        host, port = arguments.redis.rsplit(":", 1)
        client = redis.Redis(host=host, port=int(port))
        client.set("python-x", "0")
        result["redis"] = {
            "get": p50(lambda _: client.get("python-x"), arguments.samples, warmup),
            "set": p50(lambda index: client.set("python-x", str(float(index))), arguments.samples, warmup),
        }
        client.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
