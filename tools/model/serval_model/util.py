"""Shared helpers: progress output, reports, dtype tables, CPU features, model directory layout."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

_T0 = time.monotonic()


class ToolError(Exception):
    """A failure the user can act on: printed as one clear line, exit status `code`."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    """Progress line on stderr (stdout stays free for results)."""
    print(f"[serval-model {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def write_report(path: Path, report: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False, default=_json_default) + "\n")
    os.replace(tmp, path)
    log(f"report written to {path}")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# TF DataType enum name <-> numpy. DT_STRING maps to object arrays of bytes.
TF_TO_NP = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_HALF": np.float16,
    "DT_INT8": np.int8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_UINT16": np.uint16,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_BOOL": np.bool_,
    "DT_STRING": np.object_,
}
NP_TO_TF = {np.dtype(v).name: k for k, v in TF_TO_NP.items() if k != "DT_STRING"}

ONNX_TYPE_TO_NP = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def np_to_tf_dtype(dtype: np.dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype.kind in ("O", "S", "U"):
        return "DT_STRING"
    try:
        return NP_TO_TF[dtype.name]
    except KeyError:
        raise ToolError(f"no TF dtype for numpy dtype {dtype}") from None


def cpu_isa() -> dict[str, Any]:
    """The x86 integer-dot-product features ONNX Runtime's int8 kernels (MLAS) pick from, best first."""
    flags: set[str] = set()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    if "avx512_vnni" in flags:
        isa = "avx512_vnni"
    elif "avx_vnni" in flags:
        isa = "avx_vnni"
    elif "avx512bw" in flags:
        isa = "avx512bw"
    elif "avx2" in flags:
        isa = "avx2"
    elif "sse4_1" in flags:
        isa = "sse4.1"
    else:
        isa = "generic"
    vnni = isa in ("avx512_vnni", "avx_vnni")
    return {
        "cpu": model,
        "isa": isa,
        "vnni": vnni,
        "flags_seen": sorted(f for f in flags if f.startswith(("avx", "amx")) or f.startswith("sse4")),
        # Without VNNI, u8*s8 products go through pmaddubsw, which saturates at int16: ORT's guidance is
        # 7-bit weights (reduce_range) there. VNNI accumulates in int32, so the full range is safe.
        "reduce_range": not vnni,
    }


# ---- model directory layout -------------------------------------------------------------------------

def is_saved_model(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and ((path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists())


def is_version_name(name: str) -> bool:
    return name.isdigit() and len(name) <= 19


def version_dirs(base: Path) -> list[Path]:
    """Numeric version subdirectories of a TF Serving base path (zero-padded names included), by number."""
    base = Path(base)
    dirs = [p for p in base.iterdir() if p.is_dir() and is_version_name(p.name)]
    return sorted(dirs, key=lambda p: int(p.name))


def next_version(base: Path) -> int:
    base = Path(base)
    if not base.exists():
        return 1
    dirs = version_dirs(base)
    return int(dirs[-1].name) + 1 if dirs else 1


def onnx_graph_path(path: Path) -> Path:
    """model.onnx of a version dir, or the path itself when it is an .onnx file."""
    path = Path(path)
    if path.is_dir():
        graph = path / "model.onnx"
        if not graph.exists():
            raise ToolError(f"{path}: no model.onnx in this directory")
        return graph
    if not path.exists():
        raise ToolError(f"{path}: no such file")
    return path


def load_signature_file(version_dir: Path) -> dict[str, Any] | None:
    path = Path(version_dir) / "signatures.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    if doc.get("format") != "serval.signatures.v1":
        raise ToolError(f"{path}: unknown format {doc.get('format')!r} (expected serval.signatures.v1)")
    return doc
