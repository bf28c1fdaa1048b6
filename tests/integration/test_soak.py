"""Soak (docs/reliability.md §6.A 6; outside the default suite: `pytest -m soak`): load -> infer -> unload of the ResNet-50-shaped
model, 300 cycles, through the KServe repository API. Passes when the RSS slope over the last 200 cycles is
below 64 KB/cycle and threads and fds are back to their baseline +-2. Prints the figures for the record.

Deselected by default (marker `soak`, see pytest.ini). Run:
  .venv/bin/python -m pytest -q -s -m soak tests/integration/test_soak.py   (SERVAL_SOAK_CYCLES overrides 300)
"""
from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

from conftest import ServerProcess
CYCLES = int(os.environ.get("SERVAL_SOAK_CYCLES", "300"))


def proc_figures(pid: int) -> tuple[int, int, int]:
    """(VmRSS bytes, threads, open fds) of `pid`."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.soak
def test_load_infer_unload_soak(tmp_path, models_dir):
    import tritonclient.http as thttp

    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(models_dir / "resnet50", root / "resnet50")
    srv = ServerProcess("soak", [f"--model_config_file={tmp_path / 'empty.config'}", "--enable_model_control",
                                 "--model_control_without_token_i_understand_the_risk",
                                 f"--model_root={root}", "--file_system_poll_wait_seconds=0"])
    (tmp_path / "empty.config").write_text("model_config_list {}\n")
    srv.start()
    client = thttp.InferenceServerClient(f"127.0.0.1:{srv.rest_port}", network_timeout=120)
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    samples = []
    try:
        deadline = time.monotonic() + 3600
        for cycle in range(CYCLES):
            assert time.monotonic() < deadline, "soak ran past its hour"
            client.load_model("resnet50", headers={"Content-Type": "application/json"})
            meta = client.get_model_metadata("resnet50")
            inp = thttp.InferInput(meta["inputs"][0]["name"], list(x.shape), "FP32")
            inp.set_data_from_numpy(x, binary_data=True)
            result = client.infer("resnet50", [inp])
            assert result.as_numpy(meta["outputs"][0]["name"]).shape[0] == 1
            client.unload_model("resnet50", headers={"Content-Type": "application/json"})
            samples.append(proc_figures(srv.proc.pid))
            if cycle == 0:
                baseline = samples[0]
        rss = np.array([s[0] for s in samples[-200:]], dtype=np.float64)
        slope = float(np.polyfit(np.arange(len(rss)), rss, 1)[0])
        threads = [s[1] for s in samples]
        fds = [s[2] for s in samples]
        print(f"\nsoak: {CYCLES} cycles; RSS first {samples[0][0] / 2**20:.1f} MiB, last {samples[-1][0] / 2**20:.1f} MiB, "
              f"max {max(s[0] for s in samples) / 2**20:.1f} MiB; slope over last 200: {slope / 1024:.2f} KB/cycle; "
              f"threads {baseline[1]} -> {threads[-1]} (max {max(threads)}); fds {baseline[2]} -> {fds[-1]} "
              f"(max {max(fds)})")
        assert slope < 64 * 1024, f"RSS grows {slope / 1024:.1f} KB/cycle"
        assert abs(threads[-1] - baseline[1]) <= 2
        assert abs(fds[-1] - baseline[2]) <= 2
    finally:
        client.close()
        assert srv.stop() == 0
