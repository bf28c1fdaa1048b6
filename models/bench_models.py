#!/usr/bin/env python3
"""Benchmark models for bench/compare that make_models.py does not build.

Usage:
    python models/bench_models.py --out DIR [--only bert,wide]

    bert — a BERT-base-shaped encoder: 12 layers, hidden 768, 12 heads, FFN 3072, sequence 128, vocabulary
           30522; int64 inputs input_ids / attention_mask / token_type_ids [batch, 128]; output pooled
           [batch, 768] (tanh pooler on the first token). ≈110M FP32 parameters (≈440 MB), random weights
           (std 0.02, seed 7). Written as DIR/bert/1/model.onnx.
    wide — a ResNet-50-sized input and next to no compute: x FP32 [batch, 3, 224, 224] -> sum FP32 [batch]
           (ReduceSum over everything but the batch). With the run this short, REST-JSON p50 − gRPC p50 on it
           is the JSON path's cost itself (docs/benchmarking.md §6), not buried in ResNet's run-to-run spread.

Built with onnx.helper and numpy (opset 17, IR 8), not Keras + tf2onnx: tf2onnx's releases pin protobuf 3.20,
which conflicts with the tensorflow 2.21 / protobuf pins of scripts/requirements.txt. The graph is the
standard post-LN BERT encoder (Gather embeddings, LayerNormalization, MatMul attention with an additive mask,
erf GELU), so ONNX Runtime runs the same kernels a converted BERT would use.

Idempotent like make_models.py: a model whose .serval-build-id matches the generator's hash is skipped;
files are written to a temporary name and renamed; each built model is run once in onnxruntime first.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
BUILD_ID_FILE = ".serval-build-id"

BERT = {"layers": 12, "hidden": 768, "heads": 12, "ffn": 3072, "seq": 128, "vocab": 30522, "positions": 512,
        "types": 2, "seed": 7}


def build_bert(p: dict) -> onnx.ModelProto:
    rng = np.random.default_rng(p["seed"])
    h, heads, seq = p["hidden"], p["heads"], p["seq"]
    head = h // heads
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def weight(name: str, shape, std: float = 0.02, value: float | None = None) -> str:
        if value is None:
            arr = (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)
        else:
            arr = np.full(shape, value, dtype=np.float32)
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def layer_norm(x: str, prefix: str) -> str:
        return node("LayerNormalization", [x, weight(f"{prefix}.gamma", [h], value=1.0),
                                           weight(f"{prefix}.beta", [h], value=0.0)], f"{prefix}.out",
                    axis=-1, epsilon=1e-12)

    def dense(x: str, prefix: str, n_in: int, n_out: int) -> str:
        y = node("MatMul", [x, weight(f"{prefix}.w", [n_in, n_out])], f"{prefix}.mm")
        return node("Add", [y, weight(f"{prefix}.b", [n_out], value=0.0)], f"{prefix}.out")

    # Embeddings.
    words = node("Gather", [weight("emb.word", [p["vocab"], h]), "input_ids"], "emb.words")
    pos_ids = const("emb.position_ids", np.arange(seq, dtype=np.int64).reshape(1, seq))
    positions = node("Gather", [weight("emb.position", [p["positions"], h]), pos_ids], "emb.positions")
    types = node("Gather", [weight("emb.type", [p["types"], h]), "token_type_ids"], "emb.types")
    x = node("Add", [node("Add", [words, positions], "emb.sum1"), types], "emb.sum2")
    x = layer_norm(x, "emb.ln")

    # Additive mask [batch, 1, 1, seq]: 0 where attended, -10000 where masked.
    m = node("Cast", ["attention_mask"], "mask.f", to=TensorProto.FLOAT)
    m = node("Sub", [const("one", np.array(1.0, np.float32)), m], "mask.inv")
    m = node("Mul", [m, const("neg", np.array(-10000.0, np.float32))], "mask.add")
    mask = node("Unsqueeze", [m, const("mask.axes", np.array([1, 2], np.int64))], "mask.4d")

    split_shape = const("shape.split", np.array([0, 0, heads, head], np.int64))
    merge_shape = const("shape.merge", np.array([0, 0, h], np.int64))
    scale = const("attn.scale", np.array(1.0 / np.sqrt(head), np.float32))
    sqrt2 = const("gelu.sqrt2", np.array(np.sqrt(2.0), np.float32))
    half = const("gelu.half", np.array(0.5, np.float32))
    one = "one"
    for i in range(p["layers"]):
        L = f"l{i}"
        q = node("Transpose", [node("Reshape", [dense(x, f"{L}.q", h, h), split_shape], f"{L}.q4")], f"{L}.qt",
                 perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [dense(x, f"{L}.k", h, h), split_shape], f"{L}.k4")], f"{L}.kt",
                 perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [dense(x, f"{L}.v", h, h), split_shape], f"{L}.v4")], f"{L}.vt",
                 perm=[0, 2, 1, 3])
        s = node("Mul", [node("MatMul", [q, k], f"{L}.qk"), scale], f"{L}.scaled")
        a = node("Softmax", [node("Add", [s, mask], f"{L}.masked")], f"{L}.probs", axis=-1)
        c = node("Transpose", [node("MatMul", [a, v], f"{L}.ctx")], f"{L}.ctxt", perm=[0, 2, 1, 3])
        c = node("Reshape", [c, merge_shape], f"{L}.ctx3")
        x = layer_norm(node("Add", [x, dense(c, f"{L}.o", h, h)], f"{L}.res1"), f"{L}.ln1")
        f = dense(x, f"{L}.ffn1", h, p["ffn"])
        erf = node("Erf", [node("Div", [f, sqrt2], f"{L}.gelu.div")], f"{L}.gelu.erf")
        f = node("Mul", [node("Mul", [f, node("Add", [erf, one], f"{L}.gelu.add")], f"{L}.gelu.mul"), half],
                 f"{L}.gelu")
        x = layer_norm(node("Add", [x, dense(f, f"{L}.ffn2", p["ffn"], h)], f"{L}.res2"), f"{L}.ln2")

    first = node("Gather", [x, const("first.index", np.array(0, np.int64))], "pool.first", axis=1)
    node("Tanh", [dense(first, "pool", h, h)], "pooled")
    graph = helper.make_graph(
        nodes, "bert_base_shaped",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", seq])
         for n in ("input_ids", "attention_mask", "token_type_ids")],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", h])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="serval-bench_models", doc_string="BERT-base-shaped encoder, seq 128")
    model.ir_version = IR_VERSION
    model.model_version = 1
    return model


def check_bert(path: Path, p: dict) -> None:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"input_ids": rng.integers(0, p["vocab"], (1, p["seq"])).astype(np.int64),
             "attention_mask": np.ones((1, p["seq"]), np.int64),
             "token_type_ids": np.zeros((1, p["seq"]), np.int64)}
    (pooled,) = sess.run(["pooled"], feeds)
    if pooled.shape != (1, p["hidden"]) or not np.isfinite(pooled).all() or np.abs(pooled).max() == 0:
        raise RuntimeError(f"bert: bad output {pooled.shape}")


WIDE = {"channels": 3, "height": 224, "width": 224}


def build_wide(p: dict) -> onnx.ModelProto:
    axes = numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["sum"], keepdims=0)], "wide_input",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", p["channels"], p["height"], p["width"]])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch"])], [axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="serval-bench_models", doc_string="ResNet-50-sized input, ReduceSum")
    model.ir_version = IR_VERSION
    model.model_version = 1
    return model


def check_wide(path: Path, p: dict) -> None:
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((2, p["channels"], p["height"], p["width"])).astype(np.float32)
    (total,) = sess.run(["sum"], {"x": x})
    if total.shape != (2,) or not np.allclose(total, x.reshape(2, -1).sum(axis=1), rtol=1e-4, atol=1e-2):
        raise RuntimeError(f"wide: bad output {total}")


SPECS = {"bert": (build_bert, check_bert, BERT), "wide": (build_wide, check_wide, WIDE)}


def build_id(name: str) -> str:
    builder, checker, params = SPECS[name]
    text = inspect.getsource(builder) + inspect.getsource(checker) + repr(sorted(params.items()))
    text += f"{OPSET}/{IR_VERSION}/{onnx.__version__}/{np.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()


def build(name: str, out: Path) -> None:
    builder, checker, params = SPECS[name]
    target_dir = out / name / "1"
    model_path, id_path = target_dir / "model.onnx", target_dir / BUILD_ID_FILE
    wanted = build_id(name)
    if model_path.is_file() and id_path.is_file() and id_path.read_text().strip() == wanted:
        return
    target_dir.mkdir(parents=True, exist_ok=True)
    model = builder(params)
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".onnx", dir=target_dir)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        checker(Path(tmp), params)
        os.replace(tmp, model_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    id_path.write_text(wanted + "\n")
    print(f"built {name} v1 ({model_path.stat().st_size / 1e6:.0f} MB) -> {model_path}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=",".join(SPECS))
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}")
    for name in names:
        build(name, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
