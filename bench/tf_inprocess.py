"""In-process TensorFlow CPU: the TF Serving side's upper bound (TF Serving cannot beat TF in process).

The same network as the ONNX file runs in TensorFlow: this script reads the .onnx file and builds a
tf.function from its graph and weights (the ops bench models use: Conv, Relu, Add, Sub, Mul, Div, MaxPool,
GlobalAveragePool, Flatten, Gemm, MatMul, Gather, LayerNormalization, Cast, Unsqueeze, Reshape, Transpose,
Softmax, Erf, Tanh). Convolutions run in NHWC (TF's CPU layout): 4-D activations are kept NHWC from the
first Conv on, so no per-op transposes are added. That replaces the Keras + tf2onnx path (tf2onnx pins
protobuf 3.20, which conflicts with tensorflow 2.21 here): the weights and the math are the same, and the
outputs are checked against onnxruntime before timing (max relative error printed; > 1e-3 fails).

TF runs with 1 intra-op and 1 inter-op thread, like Serval's engine in bench/compare. Prints one JSON line.
Usage: python bench/tf_inprocess.py --model FILE [--seconds 10] [--warmup 2] [--input-ranges name=lo:hi,...]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def build(model: onnx.ModelProto, tf):
    """Returns fn(feeds: dict[name, tensor]) -> list of outputs, as a tf.function."""
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {k: tf.constant(v) for k, v in weights.items()}
    nodes = list(model.graph.node)
    outputs = [o.name for o in model.graph.output]

    @tf.function
    def run(feeds):
        env = dict(consts)
        env.update(feeds)
        nhwc = set()  # names of 4-D tensors stored NHWC

        def nhwc_of(name):
            x = env[name]
            if name in nhwc:
                return x
            return tf.transpose(x, [0, 2, 3, 1])

        for n in nodes:
            a = attrs(n)
            ins = list(n.input)
            op = n.op_type
            out = n.output[0]
            if op == "Conv":
                x = nhwc_of(ins[0])
                w = tf.transpose(env[ins[1]], [2, 3, 1, 0])  # OIHW -> HWIO
                pads = a.get("pads", [0, 0, 0, 0])
                strides = a.get("strides", [1, 1])
                y = tf.nn.conv2d(x, w, strides=[1, strides[0], strides[1], 1],
                                 padding=[[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
                if len(ins) > 2:
                    y = y + env[ins[2]]
                env[out] = y
                nhwc.add(out)
            elif op == "MaxPool":
                x = nhwc_of(ins[0])
                k, s, p = a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
                x = tf.pad(x, [[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]], constant_values=-np.inf)
                env[out] = tf.nn.max_pool2d(x, ksize=k, strides=s, padding="VALID")
                nhwc.add(out)
            elif op == "GlobalAveragePool":
                env[out] = tf.reduce_mean(nhwc_of(ins[0]), axis=[1, 2], keepdims=True)
                nhwc.add(out)  # [N,1,1,C]
            elif op == "Flatten":
                x = env[ins[0]]
                env[out] = tf.reshape(x, [tf.shape(x)[0], -1])  # spatial dims are 1 after GAP: same in NHWC
            elif op in ("Relu", "Erf", "Tanh", "Identity"):
                f = {"Relu": tf.nn.relu, "Erf": tf.math.erf, "Tanh": tf.math.tanh, "Identity": tf.identity}[op]
                env[out] = f(env[ins[0]])
                if ins[0] in nhwc:
                    nhwc.add(out)
            elif op in ("Add", "Sub", "Mul", "Div"):
                x, y = env[ins[0]], env[ins[1]]
                if (ins[0] in nhwc) != (ins[1] in nhwc) and len(x.shape) == 4 and len(y.shape) == 4:
                    x, y = nhwc_of(ins[0]), nhwc_of(ins[1])
                f = {"Add": tf.add, "Sub": tf.subtract, "Mul": tf.multiply, "Div": tf.divide}[op]
                env[out] = f(x, y)
                if ins[0] in nhwc or ins[1] in nhwc:
                    nhwc.add(out)
            elif op == "Gemm":
                x, w = env[ins[0]], env[ins[1]]
                y = tf.matmul(x, w, transpose_a=bool(a.get("transA", 0)), transpose_b=bool(a.get("transB", 0)))
                y = y * a.get("alpha", 1.0)
                if len(ins) > 2:
                    y = y + env[ins[2]] * a.get("beta", 1.0)
                env[out] = y
            elif op == "MatMul":
                env[out] = tf.matmul(env[ins[0]], env[ins[1]])
            elif op == "Gather":
                env[out] = tf.gather(env[ins[0]], env[ins[1]], axis=a.get("axis", 0))
            elif op == "LayerNormalization":
                x = env[ins[0]]
                mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
                env[out] = (x - mean) * tf.math.rsqrt(var + a.get("epsilon", 1e-5)) * env[ins[1]] + env[ins[2]]
            elif op == "Cast":
                env[out] = tf.cast(env[ins[0]], {1: tf.float32, 7: tf.int64, 6: tf.int32, 11: tf.float64}[a["to"]])
            elif op == "Unsqueeze":
                x = env[ins[0]]
                for axis in sorted(int(v) for v in weights[ins[1]]):
                    x = tf.expand_dims(x, axis)
                env[out] = x
            elif op == "Reshape":
                x = env[ins[0]]
                target = [int(v) for v in weights[ins[1]]]
                shape = tf.shape(x)
                dims = [shape[i] if d == 0 else d for i, d in enumerate(target)]
                env[out] = tf.reshape(x, tf.stack(dims))
            elif op == "Transpose":
                env[out] = tf.transpose(env[ins[0]], a["perm"])
            elif op == "Softmax":
                env[out] = tf.nn.softmax(env[ins[0]], axis=a.get("axis", -1))
            else:
                raise NotImplementedError(f"op {op} is not mapped to TensorFlow")
        return [tf.transpose(env[o], [0, 3, 1, 2]) if o in nhwc else env[o] for o in outputs]

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--int-range", type=int, default=2)
    ap.add_argument("--input-ranges", default="")
    args = ap.parse_args()

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import onnxruntime as ort

    ranges = {}
    for item in filter(None, args.input_ranges.split(",")):
        name, _, span = item.partition("=")
        lo, _, hi = span.partition(":")
        ranges[name] = (int(lo), int(hi))
    model = onnx.load(args.model)
    rng = np.random.default_rng(1)
    feeds = {}
    np_types = {1: np.float32, 7: np.int64, 6: np.int32, 11: np.float64}
    for i in model.graph.input:
        if i.name in {w.name for w in model.graph.initializer}:
            continue
        t = i.type.tensor_type
        shape = [args.batch if k == 0 and not d.HasField("dim_value") else (d.dim_value or 1)
                 for k, d in enumerate(t.shape.dim)]
        dtype = np_types[t.elem_type]
        if np.issubdtype(dtype, np.floating):
            feeds[i.name] = rng.random(shape, dtype=np.float64).astype(dtype)
        else:
            lo, hi = ranges.get(i.name, (0, args.int_range))
            feeds[i.name] = rng.integers(lo, hi, shape).astype(dtype)

    fn = build(model, tf)
    tf_feeds = {k: tf.constant(v) for k, v in feeds.items()}
    got = [o.numpy() for o in fn(tf_feeds)]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    want = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"]).run(None, feeds)
    rel = max(float(np.max(np.abs(g - w)) / (np.max(np.abs(w)) + 1e-12)) for g, w in zip(got, want))
    if rel > 1e-3:
        raise SystemExit(f"TensorFlow and onnxruntime disagree: max relative error {rel:.3g}")

    end = time.monotonic() + args.warmup
    while time.monotonic() < end:  # bounded by time
        fn(tf_feeds)
    latencies = []
    start = time.perf_counter_ns()
    deadline = start + int(args.seconds * 1e9)
    while True:
        t0 = time.perf_counter_ns()
        if t0 >= deadline or len(latencies) >= 10_000_000:
            break
        outs = fn(tf_feeds)
        outs[0].numpy()  # the result in host memory, as a server would need it
        latencies.append(time.perf_counter_ns() - t0)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    lat = np.sort(np.array(latencies, dtype=np.int64)) / 1000.0

    def pct(p: float) -> float:
        return float(lat[min(len(lat) - 1, max(0, int(np.ceil(p * len(lat))) - 1))])

    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                status[key] = int(value.split()[0])
    print(json.dumps({"target": "tensorflow", "completed": len(latencies), "seconds": elapsed,
                      "throughput": len(latencies) / elapsed, "latency_us": {"p50": pct(0.5), "p90": pct(0.9),
                      "p99": pct(0.99), "p99.9": pct(0.999), "max": float(lat[-1])},
                      "vm_rss_kb": status.get("VmRSS", 0), "vm_hwm_kb": status.get("VmHWM", 0),
                      "threads": status.get("Threads", 0), "max_rel_error_vs_ort": rel,
                      "tensorflow": tf.__version__}))


if __name__ == "__main__":
    main()
