"""Sample inputs: random from a signature, a user's .npz, a directory of .npy files, or a warm-up file's records.

A "spec" here is {alias: (dtype name DT_*, shape with -1 for unknown dims)}. A "batch" is {alias: ndarray}.
tf.Example signatures are fed by feature name; `examples_from_features` serializes such a batch to tf.Example
strings for the TensorFlow side, so both sides see the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .util import TF_TO_NP, ToolError, np_to_tf_dtype

WARMUP_RELPATH = Path("assets.extra") / "tf_serving_warmup_requests"


def concrete_shape(shape: list[int] | None, batch: int, free_dim: int) -> list[int]:
    if shape is None:
        raise ToolError("an input has unknown rank: give sample inputs with --npz")
    dims = []
    for i, d in enumerate(shape):
        if d is None or d < 0:
            dims.append(batch if i == 0 else free_dim)
        else:
            dims.append(d)
    return dims


def random_array(dtype: str, shape: list[int], rng: np.random.Generator, int_high: int = 100) -> np.ndarray:
    np_type = TF_TO_NP.get(dtype)
    if np_type is None:
        raise ToolError(f"cannot make random values of {dtype}")
    if np_type is np.object_:
        values = np.array([f"s{int(v)}".encode() for v in rng.integers(0, 1000, size=int(np.prod(shape)))],
                          dtype=object)
        return values.reshape(shape)
    if np_type is np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(np_type, np.integer):
        return rng.integers(0, int_high, size=shape).astype(np_type)
    return rng.standard_normal(size=shape).astype(np_type)


def random_batch(spec: dict[str, tuple[str, list[int] | None]], batch: int, seed: int, free_dim: int = 8,
                 int_high: int = 100) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {alias: random_array(dtype, concrete_shape(shape, batch, free_dim), rng, int_high)
            for alias, (dtype, shape) in spec.items()}


def load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as error:
        raise ToolError(f"{path}: cannot read as .npz ({error})") from None


def load_npy_dir(path: Path) -> list[dict[str, np.ndarray]]:
    """A directory of samples: each .npy file one sample of the model's only input, each .npz one sample."""
    files = sorted(p for p in Path(path).iterdir() if p.suffix in (".npy", ".npz"))
    if not files:
        raise ToolError(f"{path}: no .npy or .npz files")
    samples = []
    for f in files:
        samples.append(load_npz(f) if f.suffix == ".npz" else {"": np.load(f, allow_pickle=False)})
    return samples


def split_batch(batch: dict[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    """Splits along dimension 0 into pieces of at most `size`."""
    n = len(next(iter(batch.values())))
    return [{k: v[i:i + size] for k, v in batch.items()} for i in range(0, n, size)]


def concat_batches(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


# ---- tf.Example ---------------------------------------------------------------------------------------

def examples_from_features(features: dict[str, np.ndarray], spec: dict[str, Any]) -> np.ndarray:
    """Serializes a batch of parsed features back into tf.Example strings (object array of bytes)."""
    from tensorflow.core.example import example_pb2

    n = len(next(iter(features.values())))
    out = []
    for i in range(n):
        example = example_pb2.Example()
        for name, entry in spec.items():
            if name not in features:
                continue
            value = np.asarray(features[name][i]).reshape(-1)
            feature = example.features.feature[name]
            if entry["dtype"] == "DT_FLOAT":
                feature.float_list.value.extend(value.astype(np.float32).tolist())
            elif entry["dtype"] == "DT_INT64":
                feature.int64_list.value.extend(value.astype(np.int64).tolist())
            else:
                feature.bytes_list.value.extend(v if isinstance(v, bytes) else str(v).encode() for v in value)
        out.append(example.SerializeToString())
    return np.array(out, dtype=object)


def random_examples(spec: dict[str, Any], n: int, seed: int, int_high: int = 100) -> np.ndarray:
    """n serialized tf.Examples with random values for every feature (var_len ones 0-4 values long)."""
    from tensorflow.core.example import example_pb2

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        example = example_pb2.Example()
        for name, entry in spec.items():
            count = int(np.prod(entry["shape"])) if entry["kind"] == "fixed_len" else int(rng.integers(0, 5))
            if entry["kind"] == "var_len" and count == 0:
                continue
            value = random_array(entry["dtype"], [count], rng, int_high)
            feature = example.features.feature[name]
            if entry["dtype"] == "DT_FLOAT":
                feature.float_list.value.extend(value.tolist())
            elif entry["dtype"] == "DT_INT64":
                feature.int64_list.value.extend(value.tolist())
            else:
                feature.bytes_list.value.extend(value.tolist())
        out.append(example.SerializeToString())
    return np.array(out, dtype=object)


def features_from_examples(serialized: list[bytes], spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """Parses tf.Example strings with the recorded feature spec (fixed_len features), as TF would."""
    import tensorflow as tf

    tf_spec = {}
    for name, entry in spec.items():
        dtype = {"DT_FLOAT": tf.float32, "DT_INT64": tf.int64, "DT_STRING": tf.string}[entry["dtype"]]
        if entry["kind"] == "fixed_len":
            tf_spec[name] = tf.io.FixedLenFeature(entry["shape"], dtype, default_value=entry["default"])
        else:
            tf_spec[name] = tf.io.VarLenFeature(dtype)
    parsed = tf.io.parse_example(tf.constant(serialized, dtype=tf.string), tf_spec)
    result = {}
    for name, value in parsed.items():
        if isinstance(value, tf.SparseTensor):
            result[name] = value  # kept sparse: the ONNX feed splits it into three inputs
        else:
            result[name] = value.numpy()
    return result


# ---- warm-up files (TFRecord of PredictionLog) ------------------------------------------------------------

def read_warmup(path: Path) -> Iterator[Any]:
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    if not Path(path).exists():
        raise ToolError(f"{path}: no such warm-up file")
    for n, record in enumerate(tf.data.TFRecordDataset(str(path))):
        log_entry = prediction_log_pb2.PredictionLog()
        try:
            log_entry.ParseFromString(record.numpy())
        except Exception as error:
            raise ToolError(f"{path}: record {n} is not a PredictionLog ({error})") from None
        yield log_entry


def warmup_batches(path: Path, signature: str) -> list[dict[str, Any]]:
    """The records of a warm-up file that target `signature`: {"kind": predict|examples, "inputs": ...}."""
    import tensorflow as tf

    batches = []
    for entry in read_warmup(path):
        kind = entry.WhichOneof("log_type")
        if kind == "predict_log":
            request = entry.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            if name != signature:
                continue
            batches.append({"kind": "predict",
                            "inputs": {k: tf.make_ndarray(v) for k, v in request.inputs.items()}})
        elif kind in ("classify_log", "regress_log", "multi_inference_log"):
            request = getattr(entry, kind).request
            spec_name = (request.tasks[0].model_spec.signature_name if kind == "multi_inference_log"
                         else request.model_spec.signature_name) or "serving_default"
            if spec_name != signature:
                continue
            which = request.input.WhichOneof("kind")
            if which == "example_list":
                examples = [e.SerializeToString() for e in request.input.example_list.examples]
            else:
                context = request.input.example_list_with_context.context
                examples = []
                for e in request.input.example_list_with_context.examples:
                    merged = type(e)()
                    merged.CopyFrom(context)
                    merged.MergeFrom(e)
                    examples.append(merged.SerializeToString())
            batches.append({"kind": "examples", "examples": examples})
    return batches


def make_tensor_proto(value: np.ndarray) -> Any:
    import tensorflow as tf

    if value.dtype == object:
        return tf.make_tensor_proto(list(value.reshape(-1)), dtype=tf.string, shape=value.shape)
    return tf.make_tensor_proto(value)


def write_warmup(path: Path, records: list[Any]) -> None:
    """Writes PredictionLog records as a TFRecord file (length, masked CRC32C, data, masked CRC32C)."""
    import tensorflow as tf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    tmp.replace(path)


def predict_log(model_name: str, signature: str, inputs: dict[str, np.ndarray]) -> Any:
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def example_log(model_name: str, signature: str, method_name: str, examples: np.ndarray) -> Any:
    from tensorflow.core.example import example_pb2
    from tensorflow_serving.apis import classification_pb2, prediction_log_pb2, regression_pb2

    parsed = []
    for s in examples.reshape(-1):
        e = example_pb2.Example()
        e.ParseFromString(s)
        parsed.append(e)
    if method_name.endswith("/classify"):
        request = classification_pb2.ClassificationRequest()
    else:
        request = regression_pb2.RegressionRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    request.input.example_list.examples.extend(parsed)
    if method_name.endswith("/classify"):
        return prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=request))
    return prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=request))


def to_tf_dtype_spec(batch: dict[str, np.ndarray]) -> dict[str, tuple[str, list[int]]]:
    return {k: (np_to_tf_dtype(v.dtype), list(v.shape)) for k, v in batch.items()}
