"""Reading TF SavedModels: signature defs (from saved_model.pb, no TF runtime needed) and in-process runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .util import TF_TO_NP, ToolError

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
_INTERNAL_SIGNATURES = ("__saved_model_init_op", "__saved_model_train_op")


@dataclass
class TensorSpec:
    alias: str
    tf_name: str
    dtype: str  # DT_* name
    shape: list[int] | None  # -1 = unknown dimension, None = unknown rank

    def as_json(self) -> dict[str, Any]:
        return {"tf_name": self.tf_name, "dtype": self.dtype, "shape": self.shape}


@dataclass
class SignatureInfo:
    key: str
    method_name: str
    inputs: dict[str, TensorSpec] = field(default_factory=dict)
    outputs: dict[str, TensorSpec] = field(default_factory=dict)


def _tensor_spec(alias: str, info: Any) -> TensorSpec:
    from tensorflow.core.framework import types_pb2

    dtype = types_pb2.DataType.Name(info.dtype)
    if info.tensor_shape.unknown_rank:
        shape = None
    else:
        shape = [int(d.size) for d in info.tensor_shape.dim]
    name = info.name if info.WhichOneof("encoding") == "name" else ""
    return TensorSpec(alias=alias, tf_name=name, dtype=dtype, shape=shape)


def read_signatures(saved_model_dir: Path, tags: list[str]) -> dict[str, SignatureInfo]:
    """The signature defs of the MetaGraph whose tag set is `tags`, by key (internal ones left out)."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = Path(saved_model_dir) / "saved_model.pb"
    if not path.exists():
        raise ToolError(f"{saved_model_dir}: not a SavedModel (no saved_model.pb)")
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception as error:  # DecodeError
        raise ToolError(f"{path}: not a SavedModel protobuf ({error})") from None
    wanted = set(tags)
    metas = [m for m in proto.meta_graphs if set(m.meta_info_def.tags) == wanted]
    if not metas:
        have = [sorted(m.meta_info_def.tags) for m in proto.meta_graphs]
        raise ToolError(f"{saved_model_dir}: no MetaGraph with tags {sorted(wanted)} (it has {have})")
    result: dict[str, SignatureInfo] = {}
    for key, sig in sorted(metas[0].signature_def.items()):
        if key in _INTERNAL_SIGNATURES:
            continue
        info = SignatureInfo(key=key, method_name=sig.method_name or PREDICT)
        for alias, tensor in sorted(sig.inputs.items()):
            info.inputs[alias] = _tensor_spec(alias, tensor)
        for alias, tensor in sorted(sig.outputs.items()):
            info.outputs[alias] = _tensor_spec(alias, tensor)
        result[key] = info
    return result


def graph_file_name(signature_key: str) -> str:
    if signature_key == "serving_default":
        return "model.onnx"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", signature_key) + ".onnx"


_UNREGISTERED = re.compile(r"Op type not registered '([^']+)'")


def unknown_op_error(error: BaseException, source: Path) -> ToolError | None:
    """A clear refusal for a graph that uses an op this TensorFlow build does not have (custom ops, TF Text)."""
    match = _UNREGISTERED.search(str(error))
    if not match:
        return None
    op = match.group(1)
    return ToolError(
        f"cannot convert {source}: the graph uses op '{op}', which is not a TensorFlow core op "
        f"(a custom op, or one from TF Text / TF Addons / SentencePiece) and has no ONNX conversion; "
        f"move that step out of the model (e.g. tokenize in the client) and export again")


class TfRunner:
    """Runs a SavedModel's signatures in process (TensorFlow eager), by alias."""

    def __init__(self, saved_model_dir: Path, tags: list[str]):
        import tensorflow as tf

        self._tf = tf
        self.path = Path(saved_model_dir)
        try:
            self.loaded = tf.saved_model.load(str(saved_model_dir), tags=tags)
        except Exception as error:
            refusal = unknown_op_error(error, self.path)
            if refusal:
                raise refusal from None
            raise
        self.signatures = read_signatures(saved_model_dir, tags)

    def run(self, key: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tf = self._tf
        if key not in self.loaded.signatures:
            raise ToolError(f"{self.path}: no signature {key!r} (has {sorted(self.loaded.signatures.keys())})")
        fn = self.loaded.signatures[key]
        spec = self.signatures[key]
        args = {}
        for alias, value in feeds.items():
            dtype = TF_TO_NP[spec.inputs[alias].dtype]
            if dtype is np.object_:
                args[alias] = tf.constant(list(value.reshape(-1)), dtype=tf.string, shape=value.shape)
            else:
                args[alias] = tf.constant(np.asarray(value, dtype=dtype))
        out = fn(**args)
        return {alias: value.numpy() for alias, value in out.items()}
