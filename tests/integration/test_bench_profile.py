"""bench/profile_hotpath.py's bookkeeping: which category a sampled symbol lands in, which round is reported,
and the page it writes. Pure Python: no server, no perf."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import profile_hotpath as profile  # noqa: E402


def test_symbols_land_in_their_category():
    cases = [
        ("[kernel.kallsyms]", "futex_wake", "kernel: scheduling, futex, timers"),
        ("[kernel.kallsyms]", "__schedule", "kernel: scheduling, futex, timers"),
        ("[kernel.kallsyms]", "tcp_sendmsg_locked", "kernel: network, epoll, syscalls"),
        ("libonnxruntime.so.1", "onnxruntime::InferenceSession::Run", "ONNX Runtime"),
        ("libgrpc.so.29.0.0", "grpc_chttp2_perform_read", "gRPC core (+absl, ssl)"),
        ("libabsl_synchronization.so.2", "absl::Mutex::Lock", "gRPC core (+absl, ssl)"),
        ("libprotobuf.so.32.0.12", "google::protobuf::Descriptor::FindFieldByNumber", "protobuf"),
        ("serval", "tensorflow::serving::PredictRequest::_InternalParse", "protobuf"),
        ("libc.so.6", "malloc", "allocator"),
        ("libc.so.6", "_int_free", "allocator"),
        ("libstdc++.so.6.0.30", "operator new(unsigned long)", "allocator"),
        ("libc.so.6", "__memmove_avx512_unaligned_erms", "C++ runtime and libc"),
        ("libsimdjson.so.14.0.0", "simdjson::icelake::dom_parser_implementation::stage1", "JSON (simdjson, RapidJSON, codecs)"),
        ("serval", "serval::JsonTensorBuilder::Finish", "JSON (simdjson, RapidJSON, codecs)"),
        ("serval", "boost::beast::http::basic_parser<true>::put", "HTTP (Beast, Asio)"),
        ("serval", "boost::asio::detail::scheduler::do_run_one", "HTTP (Beast, Asio)"),
        ("serval", "serval::TfsRestService::Predict", "Serval (routing, frontend, metrics, other)"),
        ("nginx", "ngx_process_events_and_timers", "Serval (routing, frontend, metrics, other)"),
    ]
    for dso, symbol, category in cases:
        assert profile.categorize(dso, symbol) == category, (dso, symbol)
    assert all(category in profile.CATEGORIES for _, _, category in cases)


def run(cpu: float, throughput: float = 1000.0) -> dict:
    return {"cpu_us_per_request": cpu, "throughput": throughput, "p50_us": 100.0,
            "context_switches_per_request": 1.0,
            "us_per_request": {c: cpu / len(profile.CATEGORIES) for c in profile.CATEGORIES}, "top_symbols": []}


def test_the_median_round_is_reported_whole_with_every_rounds_totals():
    chosen = profile.median_run([run(90.0), run(50.0, 2000.0), run(70.0, 1500.0), run(60.0), run(300.0)])
    assert chosen["cpu_us_per_request"] == 70.0
    assert chosen["throughput"] == 1500.0
    assert sum(chosen["us_per_request"].values()) == 70.0
    assert [r["cpu_us_per_request"] for r in chosen["rounds"]] == [90.0, 50.0, 70.0, 60.0, 300.0]
    # an even count reports the lower middle round, not an average no round measured
    assert profile.median_run([run(40.0), run(80.0)])["cpu_us_per_request"] == 40.0


def test_page_has_one_column_per_target_and_the_totals():
    results = {"1": {"nginx": profile.median_run([run(20.0)]), "tfs-rest": profile.median_run([run(55.0)])}}
    page = profile.markdown(results, {"date": "2026-12-04", "machine": "m", "seconds": 3.0, "rounds": 1,
                                      "commit": "abc", "server_cpu": "1", "client_cpu": "0"})
    assert "| µs of server CPU per request | nginx | tfs-rest |" in page
    assert "| **total CPU per request** | **20.0** | **55.0** |" in page
    assert "| context switches per request | 1.00 | 1.00 |" in page
    for category in profile.CATEGORIES:
        assert f"| {category} |" in page
