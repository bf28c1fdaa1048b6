"""Runs the README's "Model tooling" walk-through block as it stands, against the real serval binary."""

from __future__ import annotations

import json
import os
import re
import subprocess

from conftest import BINARY, REPO, free_port


def walkthrough_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Model tooling", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Model tooling section should hold exactly one sh block (the walk-through)"
    return blocks[0]


def test_readme_walkthrough(models, tmp_path):
    assert BINARY.exists(), f"serval binary not found at {BINARY}"
    work = tmp_path / "w"
    (work / "tf").mkdir(parents=True)
    os.symlink(models / "digits", work / "tf" / "digits")  # the session's digits model (step 0 then skips)
    env = dict(os.environ, W=str(work), SERVAL=str(BINARY), REST_PORT=str(free_port()), GRPC_PORT=str(free_port()))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough_block()], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=400)
    log = (work / "serval.log").read_text() if (work / "serval.log").exists() else ""
    assert proc.returncode == 0, f"walk-through failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-5000:]}\n" \
                                 f"serval log:\n{log[-3000:]}"
    quantized = json.loads((work / "models" / "digits" / "2" / "quantize-report.json").read_text())
    assert quantized["published"] and quantized["accuracy_guard"]["outputs"]["probs"]["top1_agreement"] >= 0.99
    served = json.loads((work / "stable-vs-canary.json").read_text())["signatures"]["serving_default"]
    assert served["ok"] and served["b_route"].endswith("/labels/canary")
    # the canary really is the INT8 model: its outputs differ from stable's, within the top-1 guard
    assert served["outputs"]["probs"]["max_abs_error"] > 0
    assert json.loads((work / "tf-vs-onnx.json").read_text())["ok"]
