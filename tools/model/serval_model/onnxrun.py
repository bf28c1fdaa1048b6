"""Runs a converted model in process with ONNX Runtime, by the TF signature's aliases (signatures.json)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .util import ONNX_TYPE_TO_NP, ToolError, load_signature_file, np_to_tf_dtype, onnx_graph_path


def session_options(threads: int = 0):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return options


class OnnxSignature:
    """One signature of a converted version directory (or the single graph of a bare .onnx file)."""

    def __init__(self, path: Path, key: str = "serving_default", providers: list[str] | None = None,
                 threads: int = 0):
        import onnxruntime as ort

        path = Path(path)
        doc = load_signature_file(path) if path.is_dir() else None
        self.key = key
        self.entry: dict[str, Any] | None = None
        if doc is not None:
            if key not in doc["signatures"]:
                raise ToolError(f"{path}/signatures.json has no signature {key!r} (has {sorted(doc['signatures'])})")
            self.entry = doc["signatures"][key]
            graph = path / self.entry["graph"]
        else:
            if key != "serving_default":
                raise ToolError(f"{path}: no signatures.json, so only serving_default (model.onnx) is known")
            graph = onnx_graph_path(path)
        self.graph = graph
        self.session = ort.InferenceSession(str(graph), sess_options=session_options(threads),
                                            providers=providers or ["CPUExecutionProvider"])
        self.method_name = self.entry["method_name"] if self.entry else "tensorflow/serving/predict"
        self.features: dict[str, Any] | None = None
        self.example_alias: str | None = None
        if self.entry:
            for alias, item in self.entry["inputs"].items():
                if "parse_example" in item:
                    self.features = item["parse_example"]
                    self.example_alias = alias

    # -- specs -------------------------------------------------------------------------------------------
    def input_spec(self) -> dict[str, tuple[str, list[int] | None]]:
        """What to feed: aliases for a plain signature, feature names for a tf.Example one."""
        if self.features is not None:
            return {name: (f["dtype"], [-1] + list(f["shape"])) for name, f in self.features.items()
                    if f["kind"] == "fixed_len"}
        if self.entry:
            return {alias: (item["dtype"], item["shape"]) for alias, item in self.entry["inputs"].items()}
        spec = {}
        for i in self.session.get_inputs():
            np_type = ONNX_TYPE_TO_NP.get(i.type)
            if np_type is None:
                raise ToolError(f"{self.graph}: input {i.name} has type {i.type}, which sample making does not cover")
            dtype = "DT_STRING" if np_type is np.object_ else np_to_tf_dtype(np.dtype(np_type))
            spec[i.name] = (dtype, [d if isinstance(d, int) else -1 for d in i.shape])
        return spec

    def output_aliases(self) -> list[str]:
        if self.entry:
            return list(self.entry["outputs"])
        return [o.name for o in self.session.get_outputs()]

    # -- running -----------------------------------------------------------------------------------------
    def feeds(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.features is not None:
            feeds = {}
            for name, f in self.features.items():
                if name not in batch:
                    raise ToolError(f"signature {self.key!r}: no value for feature {name!r}")
                value = batch[name]
                if f["kind"] == "var_len":
                    feeds[f["onnx_name"]] = np.asarray(value.values.numpy())
                    feeds[f["onnx_indices"]] = np.asarray(value.indices.numpy(), dtype=np.int64)
                    feeds[f["onnx_dense_shape"]] = np.asarray(value.dense_shape.numpy(), dtype=np.int64)
                else:
                    feeds[f["onnx_name"]] = value
            return feeds
        if self.entry:
            names = {alias: item["onnx_name"] for alias, item in self.entry["inputs"].items()}
            unknown = [k for k in batch if k not in names]
            if unknown:
                raise ToolError(f"signature {self.key!r}: unknown input(s) {unknown} (inputs: {sorted(names)})")
            return {names[k]: v for k, v in batch.items()}
        return dict(batch)

    def run(self, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        feeds = self.feeds(batch)
        typed = {}
        for i in self.session.get_inputs():
            if i.name not in feeds:
                raise ToolError(f"{self.graph}: no value for ONNX input {i.name!r}")
            np_type = ONNX_TYPE_TO_NP.get(i.type)
            value = feeds[i.name]
            typed[i.name] = np.asarray(value, dtype=np_type) if np_type is not None else value
        names = [o.name for o in self.session.get_outputs()]
        values = self.session.run(names, typed)
        by_name = dict(zip(names, values))
        if self.entry:
            return {alias: by_name[item["onnx_name"]] for alias, item in self.entry["outputs"].items()}
        return by_name

    def time_ms(self, batch: dict[str, Any], runs: int, max_seconds: float = 20.0) -> float:
        """Mean wall time of one run over `runs` runs (after one warm run), bounded in time."""
        feeds = self.feeds(batch)
        typed = {i.name: np.asarray(feeds[i.name], dtype=ONNX_TYPE_TO_NP.get(i.type)) for i in
                 self.session.get_inputs()}
        self.session.run(None, typed)
        start = time.perf_counter()
        done = 0
        while done < runs and time.perf_counter() - start < max_seconds:
            self.session.run(None, typed)
            done += 1
        return (time.perf_counter() - start) * 1000.0 / max(done, 1)
