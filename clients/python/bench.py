"""Benchmarks of the Python client against a bridge-server: get, set, batches, a large tensor,
and watch latency as a Python watcher sees it. Prints a table and writes
bench/results/python.json in the format of bench/lib.mjs.

    /usr/bin/python3 clients/python/bench.py                 starts its own server
    /usr/bin/python3 clients/python/bench.py --target HOST:PORT [--token T]
    /usr/bin/python3 clients/python/bench.py --quick         fewer samples
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import sys
import threading
import time
from typing import Callable

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]
sys.path.insert(0, str(HERE / "src"))
sys.path.insert(0, str(HERE / "tests"))

from statebridge import SessionContext, Tensor  # noqa: E402


def quantile(sorted_samples: list[float], q: float) -> float:
    if not sorted_samples:
        return float("nan")
    position = min(len(sorted_samples) - 1, max(0, math.ceil(q * len(sorted_samples)) - 1))
    return sorted_samples[position]


def summarize(name: str, samples_ns: list[float], **extra) -> dict:
    ordered = sorted(samples_ns)
    return {
        "name": name,
        "samples": len(ordered),
        "p50Ns": quantile(ordered, 0.5),
        "p99Ns": quantile(ordered, 0.99),
        "meanNs": sum(ordered) / len(ordered),
        **extra,
    }


def sample(operation: Callable[[int], object], samples: int, warmup: int) -> list[float]:
    for index in range(warmup):
        operation(index)
    durations = []
    for index in range(samples):
        start = time.perf_counter_ns()
        operation(index)
        durations.append(time.perf_counter_ns() - start)
    return durations


def format_duration(nanoseconds: float) -> str:
    if nanoseconds != nanoseconds:
        return "-"
    if nanoseconds < 1_000:
        return f"{nanoseconds:.0f} ns"
    if nanoseconds < 1_000_000:
        return f"{nanoseconds / 1_000:.2f} µs"
    if nanoseconds < 1_000_000_000:
        return f"{nanoseconds / 1_000_000:.2f} ms"
    return f"{nanoseconds / 1_000_000_000:.2f} s"


def watch_latency(target: str, session: str, token: str | None, samples: int) -> list[float]:
    """From issuing a set (in this process) to the watcher receiving its event, in ns."""
    with SessionContext(target, session, token=token) as writer, SessionContext(target, session, token=token) as reader:
        writer.register_variable("watched", "integer", 0)
        issued: dict[int, int] = {}
        received: dict[int, int] = {}
        done = threading.Event()
        watch = reader.watch_variables(["watched"], include_initial=False)

        def consume() -> None:
            for event in watch:
                received[event.new_value] = time.perf_counter_ns()
                if event.new_value == samples:
                    done.set()
                    return

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        for value in range(1, samples + 1):
            issued[value] = time.perf_counter_ns()
            writer.set_variable("watched", value)
            while value not in received and not done.is_set():
                time.sleep(0)  # one change in flight at a time: latency, not throughput
        done.wait(30)
        watch.close()
        return [received[value] - issued[value] for value in range(1, samples + 1) if value in received]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", help="a running bridge-server; by default one is started")
    parser.add_argument("--token")
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--output", default=str(REPOSITORY / "bench" / "results" / "python.json"))
    arguments = parser.parse_args()

    samples = 300 if arguments.quick else 2000
    warmup = 50 if arguments.quick else 200
    server = None
    target = arguments.target
    if target is None:
        from support import BridgeServer

        server = BridgeServer()
        target = server.target
    try:
        session = f"bench-{os.getpid()}"
        rows = []
        with SessionContext(target, session, token=arguments.token) as ctx:
            ctx.register_variable("x", "float", 0.0)
            ctx.register_variable("n", "integer", 0)
            for index in range(100):
                ctx.register_variable(f"v{index}", "float", 0.0)
            names = [f"v{index}" for index in range(100)]
            rows.append(summarize("get", sample(lambda _: ctx.get_variable("x"), samples, warmup)))
            rows.append(summarize("set", sample(lambda index: ctx.set_variable("x", float(index)), samples, warmup)))
            rows.append(summarize("ctx[name] = value", sample(lambda index: ctx.__setitem__("n", index), samples, warmup)))
            version = [ctx.get_variable_info("x").version]

            def compare_and_set(index: int) -> None:
                version[0] = ctx.set_variable("x", float(index), expected_version=version[0])

            rows.append(summarize("set (expected_version)", sample(compare_and_set, samples // 2, warmup)))
            rows.append(summarize("get_variables (100)", sample(lambda _: ctx.get_variables(names), samples // 4, warmup // 4)))
            rows.append(
                summarize(
                    "update_variables (100, atomic)",
                    sample(lambda index: ctx.update_variables({name: float(index) for name in names}, atomic=True), samples // 4, warmup // 4),
                )
            )
            data = [index * 0.5 for index in range(1_000_000)]
            ctx.register_variable("big", "tensor", Tensor([1000, 1000], data))
            big_samples = 5 if arguments.quick else 15
            rows.append(summarize("set tensor (1,000,000)", sample(lambda _: ctx.set_variable("big", Tensor([1000, 1000], data)), big_samples, 1)))
            rows.append(summarize("get tensor (1,000,000)", sample(lambda _: ctx.get_variable("big"), big_samples, 1)))
        rows.append(summarize("watch: set issued → event received", watch_latency(target, session + "-watch", arguments.token, samples // 2)))
    finally:
        if server is not None:
            server.stop()

    print("\n## python")
    print("| benchmark | p50 | p99 | mean |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['name']} | {format_duration(row['p50Ns'])} | {format_duration(row['p99Ns'])} | {format_duration(row['meanNs'])} |")
    import google.protobuf
    import grpc

    document = {
        "suite": "python",
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
        "notes": {"grpcio": grpc.__version__, "protobuf": google.protobuf.__version__, "target": "own server" if server else target},
        "rows": rows,
    }
    output = pathlib.Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
