#!/usr/bin/env python3
"""Generate a Triton-layout model repository for Serval's --model_repository tests.

Usage:
    python models/make_triton_repository.py --out DIR

Layout produced (Triton's):  DIR/<model>/config.pbtxt   (absent for the auto-complete model)
                             DIR/<model>/1/model.onnx
                             DIR/<model>/labels.txt     (the classifier)

Models, in the style of Triton's QA add/sub models (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1):
  * onnx_<t>_<t>_<t>           t in float32, float16, int8, int16, int32, int64: batching, max_batch_size 8,
                               dims [16]; int8/int16/float16 compute in int32/float32 and cast back (wrapping
                               like numpy's fixed-width arithmetic for the integer ones).
  * onnx_nobatch_float32_float32_float32    max_batch_size 0, dims [16]
  * onnx_bool                  OUTPUT0 = INPUT0 or INPUT1, OUTPUT1 = INPUT0 xor INPUT1 (batching, dims [16])
  * onnx_object                BYTES: OUTPUT0 = INPUT0, OUTPUT1 = INPUT1 (identity; batching, dims [-1])
  * onnx_variable_float32      add/sub with variable dims: batching, dims [-1, -1]
  * onnx_dyna_float32          add/sub with dynamic_batching (max_queue_delay_microseconds 2000)
  * onnx_warmup_float32        add/sub (batching, dims [16]) with model_warmup: zero_data + random_data
                               (batch 2), and input_data_file warmup/input0 (batch 1, count 2): 3 runs at load
  * classifier                 OUTPUT0 = INPUT0 * 1 (FP32 [4]) with label_filename labels.txt
  * noconfig_add_sub           no config.pbtxt: auto-complete gives max_batch_size 4, dims [16]
  * noconfig_nobatch           no config.pbtxt, fixed shapes [16]: auto-complete gives max_batch_size 0

Deterministic and idempotent: files are rewritten only when their bytes differ (atomic replace).
Each model is loaded in onnxruntime before it is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8

TYPES = {
    "float32": (TensorProto.FLOAT, "TYPE_FP32", None),
    "float16": (TensorProto.FLOAT16, "TYPE_FP16", TensorProto.FLOAT),
    "int8": (TensorProto.INT8, "TYPE_INT8", TensorProto.INT32),
    "int16": (TensorProto.INT16, "TYPE_INT16", TensorProto.INT32),
    "int32": (TensorProto.INT32, "TYPE_INT32", None),
    "int64": (TensorProto.INT64, "TYPE_INT64", None),
}


def _model(nodes, inputs, outputs, name: str) -> bytes:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="serval-triton")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    import onnxruntime as ort

    ort.InferenceSession(data, providers=["CPUExecutionProvider"])  # must load before it is published
    return data


def add_sub(elem: int, compute: int | None, shape: list, name: str) -> bytes:
    vi = helper.make_tensor_value_info
    nodes = []
    a, b = "INPUT0", "INPUT1"
    if compute is not None:
        nodes += [helper.make_node("Cast", ["INPUT0"], ["a"], to=compute), helper.make_node("Cast", ["INPUT1"], ["b"], to=compute)]
        a, b = "a", "b"
    sum_name, diff_name = ("sum", "diff") if compute is not None else ("OUTPUT0", "OUTPUT1")
    nodes += [helper.make_node("Add", [a, b], [sum_name]), helper.make_node("Sub", [a, b], [diff_name])]
    if compute is not None:
        nodes += [helper.make_node("Cast", ["sum"], ["OUTPUT0"], to=elem), helper.make_node("Cast", ["diff"], ["OUTPUT1"], to=elem)]
    return _model(
        nodes,
        [vi("INPUT0", elem, shape), vi("INPUT1", elem, shape)],
        [vi("OUTPUT0", elem, shape), vi("OUTPUT1", elem, shape)],
        name,
    )


def bool_model(shape: list) -> bytes:
    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("Or", ["INPUT0", "INPUT1"], ["OUTPUT0"]), helper.make_node("Xor", ["INPUT0", "INPUT1"], ["OUTPUT1"])]
    b = TensorProto.BOOL
    return _model(nodes, [vi("INPUT0", b, shape), vi("INPUT1", b, shape)], [vi("OUTPUT0", b, shape), vi("OUTPUT1", b, shape)], "bool")


def object_model(shape: list) -> bytes:
    vi = helper.make_tensor_value_info
    s = TensorProto.STRING
    nodes = [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"]), helper.make_node("Identity", ["INPUT1"], ["OUTPUT1"])]
    return _model(nodes, [vi("INPUT0", s, shape), vi("INPUT1", s, shape)], [vi("OUTPUT0", s, shape), vi("OUTPUT1", s, shape)], "object")


def classifier_model() -> bytes:
    vi = helper.make_tensor_value_info
    f = TensorProto.FLOAT
    one = helper.make_tensor("one", f, [], [1.0])
    graph_nodes = [helper.make_node("Mul", ["INPUT0", "one"], ["OUTPUT0"])]
    graph = helper.make_graph(graph_nodes, "classifier", [vi("INPUT0", f, ["batch", 4])], [vi("OUTPUT0", f, ["batch", 4])], [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="serval-triton")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def io_config(name: str, max_batch: int, dtype: str, dims: list[int], extra: str = "", output_extra: str = "") -> str:
    d = ", ".join(str(x) for x in dims)
    return (
        f'name: "{name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: {max_batch}\n'
        f'input [\n  {{ name: "INPUT0" data_type: {dtype} dims: [ {d} ] }},\n'
        f'  {{ name: "INPUT1" data_type: {dtype} dims: [ {d} ] }}\n]\n'
        f'output [\n  {{ name: "OUTPUT0" data_type: {dtype} dims: [ {d} ]{output_extra} }},\n'
        f'  {{ name: "OUTPUT1" data_type: {dtype} dims: [ {d} ] }}\n]\n'
        f'instance_group [ {{ count: 1 kind: KIND_CPU }} ]\n{extra}'
    )


def models() -> dict[str, dict[str, bytes]]:
    """model name -> {relative path: bytes}"""
    out: dict[str, dict[str, bytes]] = {}
    for t, (elem, type_name, compute) in TYPES.items():
        name = f"onnx_{t}_{t}_{t}"
        out[name] = {
            "config.pbtxt": io_config(name, 8, type_name, [16]).encode(),
            "1/model.onnx": add_sub(elem, compute, ["batch", 16], name),
        }
    name = "onnx_nobatch_float32_float32_float32"
    out[name] = {
        "config.pbtxt": io_config(name, 0, "TYPE_FP32", [16]).encode(),
        "1/model.onnx": add_sub(TensorProto.FLOAT, None, [16], name),
    }
    out["onnx_bool"] = {
        "config.pbtxt": io_config("onnx_bool", 8, "TYPE_BOOL", [16]).encode(),
        "1/model.onnx": bool_model(["batch", 16]),
    }
    out["onnx_object"] = {
        "config.pbtxt": io_config("onnx_object", 8, "TYPE_STRING", [-1]).encode(),
        "1/model.onnx": object_model(["batch", "n"]),
    }
    out["onnx_variable_float32"] = {
        "config.pbtxt": io_config("onnx_variable_float32", 8, "TYPE_FP32", [-1, -1]).encode(),
        "1/model.onnx": add_sub(TensorProto.FLOAT, None, ["batch", "h", "w"], "variable"),
    }
    out["onnx_dyna_float32"] = {
        "config.pbtxt": io_config(
            "onnx_dyna_float32", 8, "TYPE_FP32", [16],
            "dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 2000 }\n"
        ).encode(),
        "1/model.onnx": add_sub(TensorProto.FLOAT, None, ["batch", 16], "dyna"),
    }
    out["onnx_warmup_float32"] = {
        "config.pbtxt": io_config(
            "onnx_warmup_float32", 8, "TYPE_FP32", [16],
            "model_warmup [\n"
            '  { name: "zeros_and_random" batch_size: 2 inputs [\n'
            '    { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 16 ] zero_data: true } },\n'
            '    { key: "INPUT1" value: { data_type: TYPE_FP32 dims: [ 16 ] random_data: true } } ] },\n'
            '  { name: "from_file" batch_size: 1 count: 2 inputs [\n'
            '    { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 16 ] input_data_file: "input0" } },\n'
            '    { key: "INPUT1" value: { data_type: TYPE_FP32 dims: [ 16 ] zero_data: true } } ] }\n'
            "]\n",
        ).encode(),
        "warmup/input0": np.arange(16, dtype=np.float32).tobytes(),
        "1/model.onnx": add_sub(TensorProto.FLOAT, None, ["batch", 16], "warmup"),
    }
    out["classifier"] = {
        "config.pbtxt": (
            'name: "classifier"\nbackend: "onnxruntime"\nmax_batch_size: 4\n'
            'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
            'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] label_filename: "labels.txt" } ]\n'
        ).encode(),
        "labels.txt": b"cat\ndog\nbird\nfish\n",
        "1/model.onnx": classifier_model(),
    }
    out["noconfig_add_sub"] = {"1/model.onnx": add_sub(TensorProto.FLOAT, None, ["batch", 16], "noconfig")}
    out["noconfig_nobatch"] = {"1/model.onnx": add_sub(TensorProto.FLOAT, None, [16], "noconfig_nobatch")}
    return out


def write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    root = Path(args.out)
    for name, files in models().items():
        changed = [rel for rel, data in files.items() if write_if_changed(root / name / rel, data)]
        if changed:
            print(f"[triton-repo] {name}: wrote {', '.join(changed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
