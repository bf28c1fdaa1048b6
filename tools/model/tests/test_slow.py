"""ResNet-50 and BERT-base conversion and the in-process INT8 speed-up (minutes; `-m slow`, not in CI).

Prints the measured numbers; README "INT8 speed-up" quotes a run of this file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import in_process, read_json

import fixtures

pytestmark = pytest.mark.slow


def _print(name: str, report: dict) -> None:
    s = report["speed"]
    print(f"\n{name}: {report['quantization']['mode']} int8 on {report['cpu']['isa']} "
          f"(reduce_range={report['quantization']['reduce_range']}): fp32 {s['fp32_ms']:.2f} ms, "
          f"int8 {s['int8_ms']:.2f} ms per inference (batch {s['batch_size']}), speed-up x{s['speedup']:.2f}; "
          f"guard {json.dumps({k: v.get('top1_agreement', v.get('normalized_max_error')) for k, v in report['accuracy_guard']['outputs'].items()})}")


def test_resnet50_convert_quantize_speedup(tmp_path):
    saved = fixtures.make_resnet50(tmp_path / "tf")
    out = tmp_path / "onnx"
    assert in_process("convert", str(saved), "--out", str(out)) == 0
    assert in_process("compare", str(saved), str(out / "1"), "--batch", "2", "--num-batches", "1", "--atol", "1e-3",
                      "--runs", "3", "--report", str(tmp_path / "c.json")) == 0
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", input=rng.random((16, 224, 224, 3), dtype=np.float32))
    np.savez(tmp_path / "holdout.npz", input=rng.random((8, 224, 224, 3), dtype=np.float32))
    # random weights and inputs: no meaningful classes, so the guard judges elementwise error, forced through
    assert in_process("quantize", str(out / "1"), "--mode", "static", "--calibration", str(tmp_path / "calib.npz"),
                      "--holdout", str(tmp_path / "holdout.npz"), "--batch", "4", "--runs", "20",
                      "--max-seconds", "60", "--force") == 0
    report = read_json(out / "2" / "quantize-report.json")
    _print("ResNet-50", report)
    assert report["speed"]["int8_ms"] > 0


def test_bert_base_convert_dynamic_quantize_speedup(tmp_path):
    saved = fixtures.make_bert(tmp_path / "tf")
    out = tmp_path / "onnx"
    assert in_process("convert", str(saved), "--out", str(out)) == 0
    assert in_process("compare", str(saved), str(out / "1"), "--batch", "1", "--num-batches", "1", "--int-high",
                      "2", "--atol", "1e-3", "--rtol", "1e-2", "--runs", "3",
                      "--report", str(tmp_path / "c.json")) == 0
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "holdout.npz", input_ids=rng.integers(0, 30522, (8, 128), dtype=np.int32),
             attention_mask=np.ones((8, 128), np.int32))
    assert in_process("quantize", str(out / "1"), "--mode", "dynamic", "--holdout", str(tmp_path / "holdout.npz"),
                      "--batch", "4", "--runs", "20", "--max-seconds", "60", "--force") == 0
    report = read_json(out / "2" / "quantize-report.json")
    _print("BERT-base", report)
    assert report["speed"]["int8_ms"] > 0
