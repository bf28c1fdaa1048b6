#!/usr/bin/env python3
"""Writes the small ONNX models engine_test loads, into the directory given as the only argument.

Built at build time (a CMake custom command) so that no .onnx blob is committed. Opset 17 / IR 8, the
same as models/make_models.py, so ONNX Runtime 1.23 loads them.

  add.onnx           a, b: FP32 [batch, 16] -> sum = a + b
  identity_all.onnx  in_<type>: <type> [N, ?] -> out_<type> = Identity, one pair per Serval DataType,
                     N a symbolic dim and ? an unknown one (both read back as -1)
  float8.onnx        f: FLOAT8E4M3FN [2] -> g (ORT loads it, Serval cannot carry it: load must refuse it)
  complex.onnx       z: COMPLEX64 [2] -> w (ORT itself refuses to load it)
  bad.onnx           random bytes (load must fail cleanly)
  spin.onnx          x: FP32 [batch, 16], n: INT64 [] -> y = x after n rounds of x = Tanh(x) in a Loop; a
                     run as long as the test asks (cancellation tests stop it with run-terminate)
"""

import os
import random
import sys

import onnx
from onnx import TensorProto, helper

OPSET = 17
IR_VERSION = 8

# Serval's DataTypes, in the order of src/core/data_type.h, with their ONNX element types.
TYPES = [
    ("bool", TensorProto.BOOL),
    ("uint8", TensorProto.UINT8),
    ("uint16", TensorProto.UINT16),
    ("uint32", TensorProto.UINT32),
    ("uint64", TensorProto.UINT64),
    ("int8", TensorProto.INT8),
    ("int16", TensorProto.INT16),
    ("int32", TensorProto.INT32),
    ("int64", TensorProto.INT64),
    ("fp16", TensorProto.FLOAT16),
    ("bf16", TensorProto.BFLOAT16),
    ("fp32", TensorProto.FLOAT),
    ("fp64", TensorProto.DOUBLE),
    ("string", TensorProto.STRING),
]


def save(graph, path, opset=OPSET, ir_version=IR_VERSION):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="serval-engine-test")
    model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    save(
        helper.make_graph(
            [helper.make_node("Add", ["a", "b"], ["sum"])],
            "add",
            [
                helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 16]),
                helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 16]),
            ],
            [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 16])],
        ),
        os.path.join(out, "add.onnx"),
    )

    save(
        helper.make_graph(
            [helper.make_node("Identity", [f"in_{n}"], [f"out_{n}"]) for n, _ in TYPES],
            "identity_all",
            [helper.make_tensor_value_info(f"in_{n}", t, ["N", None]) for n, t in TYPES],
            [helper.make_tensor_value_info(f"out_{n}", t, ["N", None]) for n, t in TYPES],
        ),
        os.path.join(out, "identity_all.onnx"),
    )

    # Identity takes float8 from opset 19 (IR 9).
    save(
        helper.make_graph(
            [helper.make_node("Identity", ["f"], ["g"])],
            "float8",
            [helper.make_tensor_value_info("f", TensorProto.FLOAT8E4M3FN, [2])],
            [helper.make_tensor_value_info("g", TensorProto.FLOAT8E4M3FN, [2])],
        ),
        os.path.join(out, "float8.onnx"),
        opset=19,
        ir_version=9,
    )

    save(
        helper.make_graph(
            [helper.make_node("Identity", ["z"], ["w"])],
            "complex",
            [helper.make_tensor_value_info("z", TensorProto.COMPLEX64, [2])],
            [helper.make_tensor_value_info("w", TensorProto.COMPLEX64, [2])],
        ),
        os.path.join(out, "complex.onnx"),
    )

    body = helper.make_graph(
        [
            helper.make_node("Tanh", ["x_in"], ["x_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "spin_body",
        [
            helper.make_tensor_value_info("iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_in", TensorProto.FLOAT, ["batch", 16]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_out", TensorProto.FLOAT, ["batch", 16]),
        ],
    )
    save(
        helper.make_graph(
            [helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)],
            "spin",
            [
                helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16]),
                helper.make_tensor_value_info("n", TensorProto.INT64, []),
            ],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
        ),
        os.path.join(out, "spin.onnx"),
    )

    rng = random.Random(1234)
    with open(os.path.join(out, "bad.onnx"), "wb") as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(4096)))


if __name__ == "__main__":
    main()
