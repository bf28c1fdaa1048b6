"""bench/report.py's goal lines from interleaved rounds (bench/compare's paired phase): the median of the
per-round ratios decides, rounds with a failed side are left out, and results without rounds keep the sweep's
ratio. Pure Python: no server."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import report  # noqa: E402


def point(p50: float = 100.0, throughput: float = 1000.0) -> dict:
    return {"concurrency": 1, "latency_us": {"p50": p50, "p99": 2 * p50}, "throughput": throughput, "errors": 0,
            "stable": True}


def line(lines: list[str], start: str) -> str:
    found = [entry for entry in lines if entry.startswith(f"| {start}")]
    assert len(found) == 1, (start, lines)
    return found[0]


def results(paired: dict | None) -> dict:
    # The sweeps measured minutes apart: nginx looked fast, Serval slow (a drifting machine).
    r = {"floors": {"nginx": [point(p50=50)], "grpc_echo": [point(p50=100, throughput=20000)]},
         "models": {"tiny": {"serval": {proto: [point(p50=100, throughput=10000)] for proto in report.PROTOCOLS}}}}
    if paired is not None:
        r["paired"] = paired
    return r


def test_without_rounds_the_sweep_ratio_decides():
    lines = report.goal_lines(results(None))
    assert "| 2× | ≤ 1.3× | **FAIL**" in line(lines, "tiny tfs-rest c=1 p50 / nginx")
    assert "| 0.5× | ≥ 0.8× | **FAIL**" in line(lines, "tiny tfs-grpc best req/s")


def test_the_median_of_round_ratios_decides_and_a_failed_round_is_left_out():
    rounds = {
        "nginx": [point(80), point(90), point(70), None],
        "tfs-rest": [point(96), point(99), point(140), point(10)],  # ratios 1.2, 1.1, 2.0; the 4th has no floor
        "grpc-echo": [point(100), point(100), point(100), point(100)],
        "tfs-grpc": [point(110), point(130), point(115), point(118)],
    }
    best = {"4": {"grpc-echo": [point(throughput=t) for t in (20000, 18000, 21000)],
                  "tfs-grpc": [point(throughput=t) for t in (17000, 16000, 15000)]},
            "16": {"grpc-echo": [point(throughput=t) for t in (19000, 19000, 22000)],
                   "tfs-grpc": [point(throughput=t) for t in (16500, 16500, 17600)]}}
    lines = report.goal_lines(results({"rounds": 4, "c1": rounds, "grpc_best": best}))
    rest = line(lines, "tiny tfs-rest c=1 p50 / nginx")
    assert "| 1.2× | ≤ 1.3× | **PASS**" in rest, rest
    assert "median of 3 interleaved rounds, range 1.1–2×; the sweeps' ratio 2×" in rest, rest
    grpc = line(lines, "tiny tfs-grpc c=1 p50 / gRPC echo")
    assert "| 1.17× | ≤ 1.2× | **PASS**" in grpc, grpc  # median of 1.1, 1.15, 1.18, 1.3
    # Each round's best over both concurrencies: 17000/20000, 16500/19000, 17600/22000 → median 0.85.
    assert "| 0.85× | ≥ 0.8× | **PASS**" in line(lines, "tiny tfs-grpc best req/s / gRPC echo best req/s (c=4, 16)")
    # A side never measured in the rounds is not a pass.
    assert "n/a" in line(lines, "tiny kserve-rest c=1 p50 / nginx")
    assert "Interleaved rounds" in "\n".join(report.paired_section(results({"rounds": 4, "c1": rounds,
                                                                             "grpc_best": best})))
