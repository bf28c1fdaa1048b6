"""TF Serving-style test models for serval-model's tests (run with .venv-tools; outputs are never committed).

    .venv-tools/bin/python tools/model/tests/fixtures.py --out /tmp/tf-models [--only half_plus_two,digits]

- half_plus_two: TF2 tf.Module like TF Serving's half_plus_two/half_plus_three: serving_default (x -> 0.5x+2),
  classify_x_to_y / regress_x_to_y (tf.Example, feature "x"), regress_x2_to_y3 / classify_x2_to_y3 (feature "x2",
  y = 0.5x+3) and a custom key "times_two"; base path with a zero-padded version dir 00000123 and a warm-up file.
- half_plus_two_tf1: the same model exported TF1-style (tf.compat.v1 graph + SavedModelBuilder).
- digits: a small CNN trained for a few seconds on scikit-learn's bundled 8x8 digits (held-out split saved as
  digits_holdout.npz, calibration split as digits_calib.npz).
- custom_op: a SavedModel whose graph names an op no TensorFlow has (stands for custom / TF Text ops).
- string_op: a core TF op (StringLength) that tf2onnx cannot convert.
- var_len: a tf.Example signature with a VarLenFeature.
- resnet50, bert: Keras ResNet-50 (weights=None) and a BERT-base-shaped encoder, random weights, fixed seeds
  (slow tests only).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def _set_method_names(saved_model_dir: Path, methods: dict[str, str]) -> None:
    """TF2's saver writes every signature as predict; TF Serving's classify/regress need their method names."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = saved_model_dir / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(path.read_bytes())
    for meta in proto.meta_graphs:
        for key, method in methods.items():
            meta.signature_def[key].method_name = method
    path.write_bytes(proto.SerializeToString())


def _examples(values: list[float], feature: str) -> list[bytes]:
    from tensorflow.core.example import example_pb2

    out = []
    for v in values:
        e = example_pb2.Example()
        e.features.feature[feature].float_list.value.append(v)
        out.append(e.SerializeToString())
    return out


def _write_warmup(version_dir: Path) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half_plus_two"
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[1.0], [2.0], [5.0]], np.float32)))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    path = version_dir / "assets.extra" / "tf_serving_warmup_requests"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())


def make_half_plus_two(base: Path, version: str = "00000123") -> Path:
    import tensorflow as tf

    class HalfPlusTwo(tf.Module):
        def __init__(self):
            super().__init__()
            self.a = tf.Variable(0.5, name="a")
            self.b = tf.Variable(2.0, name="b")
            self.c = tf.Variable(3.0, name="c")

        def _parse(self, serialized, feature):
            spec = {feature: tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])}
            return tf.io.parse_example(serialized, spec)[feature]

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def predict(self, x):
            return {"y": self.a * x + self.b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="tf_example")])
        def classify_x_to_y(self, serialized):
            return {"scores": self.a * self._parse(serialized, "x") + self.b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="tf_example")])
        def regress_x_to_y(self, serialized):
            return {"outputs": self.a * self._parse(serialized, "x") + self.b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="tf_example")])
        def regress_x2_to_y3(self, serialized):
            return {"outputs": self.a * self._parse(serialized, "x2") + self.c}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="tf_example")])
        def classify_x2_to_y3(self, serialized):
            return {"scores": self.a * self._parse(serialized, "x2") + self.c}

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def times_two(self, x):
            return {"y": 2.0 * x}

    module = HalfPlusTwo()
    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    tf.saved_model.save(module, str(out), signatures={
        "serving_default": module.predict,
        "classify_x_to_y": module.classify_x_to_y,
        "regress_x_to_y": module.regress_x_to_y,
        "regress_x2_to_y3": module.regress_x2_to_y3,
        "classify_x2_to_y3": module.classify_x2_to_y3,
        "times_two": module.times_two,
    })
    _set_method_names(out, {"classify_x_to_y": CLASSIFY, "classify_x2_to_y3": CLASSIFY,
                            "regress_x_to_y": REGRESS, "regress_x2_to_y3": REGRESS})
    _write_warmup(out)
    return out


def make_half_plus_two_tf1(base: Path, version: str = "1") -> Path:
    import tensorflow as tf

    v1 = tf.compat.v1
    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    graph = tf.Graph()
    with graph.as_default():
        a = v1.get_variable("a", initializer=0.5)
        b = v1.get_variable("b", initializer=2.0)
        x = v1.placeholder(tf.float32, [None, 1], name="x")
        y = tf.add(a * x, b, name="y")
        serialized = v1.placeholder(tf.string, [None], name="tf_example")
        parsed = v1.parse_example(serialized, {"x": v1.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        scores = tf.add(a * parsed["x"], b, name="scores")
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(out))
            predict = v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            classify = v1.saved_model.classification_signature_def(serialized, None, scores)
            regress = v1.saved_model.regression_signature_def(serialized, scores)
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={
                "serving_default": predict, "classify_x_to_y": classify, "regress_x_to_y": regress})
            builder.save()
    return out


def digits_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    return x_train, x_test, y_train, y_test


def make_digits(base: Path, version: str = "1") -> Path:
    """A small CNN, trained for a few seconds; data splits are saved next to the base path."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = digits_data()
    model = tf.keras.Sequential([
        tf.keras.layers.Input((8, 8, 1), name="image"),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=12, batch_size=64, verbose=0)
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32, name="image")])
    def serve(image):
        return {"probs": model(image, training=False)}

    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    tf.saved_model.save(model, str(out), signatures={"serving_default": serve})
    model.save(base.parent / "digits.keras")
    calib_n = 300
    np.savez(base.parent / "digits_calib.npz", image=x_train[:calib_n])
    np.savez(base.parent / "digits_holdout.npz", image=x_test)
    np.save(base.parent / "digits_holdout_labels.npy", y_test)
    (base.parent / "digits_accuracy.txt").write_text(f"{accuracy}\n")
    return out


def make_custom_op(base: Path, version: str = "1") -> Path:
    """A model whose graph uses op 'SentencepieceTokenizeOp' unknown to core TF (as a TF Text model would)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.square(x)}

    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    m = M()
    tf.saved_model.save(m, str(out), signatures={"serving_default": m.serve})
    path = out / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(path.read_bytes())
    renamed = 0
    for meta in proto.meta_graphs:
        for function in meta.graph_def.library.function:
            for node in function.node_def:
                if node.op == "Square":
                    node.op = "SentencepieceTokenizeOp"
                    renamed += 1
    assert renamed, "no Square op to rename"
    path.write_bytes(proto.SerializeToString())
    return out


def make_string_op(base: Path, version: str = "1") -> Path:
    """A core TF op tf2onnx has no conversion for (StringLength), as text preprocessing in a graph would use."""
    import tensorflow as tf

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"length": tf.strings.length(text)}

    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    m = M()
    tf.saved_model.save(m, str(out), signatures={"serving_default": m.serve})
    return out


def make_var_len(base: Path, version: str = "1") -> Path:
    """A tf.Example signature with a VarLenFeature (int64 "ids") and a FixedLenFeature with a default ("w")."""
    import tensorflow as tf

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def weighted_sum(self, serialized):
            f = tf.io.parse_example(serialized, {
                "ids": tf.io.VarLenFeature(tf.int64),
                "w": tf.io.FixedLenFeature([2], tf.float32, default_value=[1.0, 0.5])})
            total = tf.cast(tf.reduce_sum(tf.sparse.to_dense(f["ids"]), axis=1), tf.float32)
            return {"outputs": total[:, None] * f["w"]}

    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    m = M()
    tf.saved_model.save(m, str(out), signatures={"serving_default": m.weighted_sum})
    _set_method_names(out, {"serving_default": REGRESS})
    return out


def make_resnet50(base: Path, version: str = "1") -> Path:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=1000)

    @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.float32, name="input")])
    def serve(image):
        return {"probs": model(image, training=False)}

    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    tf.saved_model.save(model, str(out), signatures={"serving_default": serve})
    return out


def make_bert(base: Path, version: str = "1", layers: int = 12, hidden: int = 768, heads: int = 12,
              ffn: int = 3072, vocab: int = 30522, seq: int = 128) -> Path:
    """BERT-base-shaped encoder (12 x 768, 12 heads, FFN 3072), random weights, fixed seed."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    ids = tf.keras.layers.Input((seq,), dtype=tf.int32, name="input_ids")
    mask = tf.keras.layers.Input((seq,), dtype=tf.int32, name="attention_mask")
    h = tf.keras.layers.Embedding(vocab, hidden)(ids)
    positions = tf.keras.layers.Embedding(seq, hidden)(tf.range(seq)[None, :])
    h = tf.keras.layers.LayerNormalization(epsilon=1e-12)(h + positions)
    attn_mask = tf.cast(mask[:, None, :], tf.bool)
    for _ in range(layers):
        a = tf.keras.layers.MultiHeadAttention(heads, hidden // heads)(h, h, attention_mask=attn_mask)
        h = tf.keras.layers.LayerNormalization(epsilon=1e-12)(h + a)
        f = tf.keras.layers.Dense(ffn, activation="gelu")(h)
        f = tf.keras.layers.Dense(hidden)(f)
        h = tf.keras.layers.LayerNormalization(epsilon=1e-12)(h + f)
    pooled = tf.keras.layers.Dense(hidden, activation="tanh")(h[:, 0])
    logits = tf.keras.layers.Dense(2)(pooled)
    model = tf.keras.Model([ids, mask], logits)

    @tf.function(input_signature=[tf.TensorSpec([None, seq], tf.int32, name="input_ids"),
                                  tf.TensorSpec([None, seq], tf.int32, name="attention_mask")])
    def serve(input_ids, attention_mask):
        return {"logits": model([input_ids, attention_mask], training=False)}

    out = base / version
    shutil.rmtree(out, ignore_errors=True)
    tf.saved_model.save(model, str(out), signatures={"serving_default": serve})
    return out


MAKERS = {
    "half_plus_two": lambda root: make_half_plus_two(root / "half_plus_two"),
    "half_plus_two_tf1": lambda root: make_half_plus_two_tf1(root / "half_plus_two_tf1"),
    "digits": lambda root: make_digits(root / "digits" / "base"),
    "custom_op": lambda root: make_custom_op(root / "custom_op"),
    "var_len": lambda root: make_var_len(root / "var_len"),
    "string_op": lambda root: make_string_op(root / "string_op"),
    "resnet50": lambda root: make_resnet50(root / "resnet50"),
    "bert": lambda root: make_bert(root / "bert"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="half_plus_two,half_plus_two_tf1,digits,custom_op,var_len,string_op")
    args = parser.parse_args()
    root = Path(args.out)
    for name in args.only.split(","):
        (root).mkdir(parents=True, exist_ok=True)
        path = MAKERS[name](root)
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
