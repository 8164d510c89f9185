"""How long `labkit up` takes to give a ready cluster: 1 and 3 nodes, cold (first format) and warm.

Run: `.venv/bin/python bench/cluster_start.py [--repeat N]` (jars must be cached: `make setup`).
Uses its own run directory and ports 9397-9399, so a running workbook cluster is not disturbed.

The peer in the same run is the broker itself: the moment each node logs "Kafka Server started" (it is
unfenced and its listener is open). The ratio labkit/broker shows what labkit's own readiness check adds on
top of the JVMs' start-up. Goal from the issue: 3 nodes ready in <= 20 s on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PORTS = "9397,9398,9399"
CONTROLLER_PORTS = "19397,19398,19399"
STARTED = re.compile(r"^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})\] .*KafkaRaftServer nodeId=\d+\] Kafka Server started")


def labkit(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "labkit.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"labkit {' '.join(args)} failed:\n{done.stderr}")


def last_started_at(run_dir: Path, size: int, since: float) -> float:
    """Wall-clock time at which the last node logged 'Kafka Server started' after `since`."""
    latest = 0.0
    for node in range(1, size + 1):
        stamps = []
        for line in (run_dir / f"kraft-{size}" / f"node{node}" / "node.log").read_text(errors="replace").splitlines():
            match = STARTED.match(line)
            if match:
                stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if stamp >= since:
                    stamps.append(stamp)
        if not stamps:
            return float("nan")
        latest = max(latest, min(stamps))
    return latest


def one_run(env: dict[str, str], run_dir: Path, size: int, cold: bool) -> tuple[float, float]:
    if cold and (run_dir / f"kraft-{size}").exists():
        shutil.rmtree(run_dir / f"kraft-{size}")
    begin = time.time()
    labkit(env, "up", "--brokers", str(size))
    total = time.time() - begin
    broker = last_started_at(run_dir, size, begin) - begin
    labkit(env, "down")
    return total, broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    env = {**os.environ, "LABKIT_RUN_DIR": str(run_dir), "LABKIT_BROKER_PORTS": PORTS,
           "LABKIT_CONTROLLER_PORTS": CONTROLLER_PORTS}
    labkit(env, "fetch")
    print(f"cpus={os.cpu_count()}  repeat={args.repeat}  (median seconds)\n")
    print(f"{'nodes':>5} {'start':>5} {'labkit up':>10} {'broker log':>11} {'labkit/broker':>14}")
    try:
        for size in (1, 3):
            for cold in (True, False):
                if not cold:
                    one_run(env, run_dir, size, cold=False)  # make sure the data exists and is formatted
                runs = [one_run(env, run_dir, size, cold) for _ in range(args.repeat)]
                total = statistics.median(r[0] for r in runs)
                broker = statistics.median(r[1] for r in runs)
                print(f"{size:>5} {'cold' if cold else 'warm':>5} {total:>9.1f}s {broker:>10.1f}s {total / broker:>13.2f}x",
                      flush=True)
    finally:
        labkit(env, "down")
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
