#!/usr/bin/env python3
"""Generate TensorFlow SavedModels for Serval's TensorFlow-engine tests (never committed; made by script).

Usage:
    python models/make_tf_models.py --out DIR [--only name,name] [--big]

Layout produced (a TF Serving base path per model):
  DIR/half_plus_two/00000123/saved_model.pb  TF2 tf.Module, zero-padded version dir, signatures:
        serving_default     x: float [-1,1]            -> y = 0.5x + 2
        classify_x_to_y     inputs: string [-1] (tf.Example, feature "x")  -> scores = 0.5x + 2
        regress_x_to_y      inputs: string [-1] (feature "x")              -> outputs = 0.5x + 2
        regress_x2_to_y3    inputs: string [-1] (feature "x2")             -> outputs = 0.5x2 + 3
        classify_x2_to_y3   inputs: string [-1] (feature "x2")             -> scores = 0.5x2 + 3
        classify_with_classes inputs: string [-1] (feature "x")           -> classes ["neg","pos"], scores
        custom_key          x: float [-1,1]            -> out = 0.5x + 3  (a predict signature, any key)
  DIR/half_plus_two/00000124/                 the same model, a second zero-padded version
  DIR/half_plus_three_tf1/1/                  TF1 graph + SavedModelBuilder: serving_default (x -> y = 0.5x+3)
                                              and a classification signature "classify" on tf.Example input
  DIR/tf_multitype/1/                         identity signature per dtype (float, double, int32, int64,
                                              string, bool, half, uint8, int8, int16): name "in_<t>" -> "out_<t>"
  DIR/tf_anyrank/1/                           serving_default x: float, unknown rank -> y = x * 2
  DIR/tf_slow/1/                              serving_default x: float [-1] -> y; runs for ~x[0] seconds
  With --big:
  DIR/tf_resnet50/1/                          Keras ResNet-50 (weights=None, seed 0), serving_default
  DIR/tf_bert/1/                              BERT-base-shaped Keras encoder (12 x 768, seq 128), random weights

Idempotent and quiet: a model whose version dir exists with a matching build id is skipped; one line is
printed per model built. Each version is written to a temporary directory and renamed into place, so a
server polling DIR never sees half a SavedModel.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

GENERATOR_VERSION = 1
BUILD_ID_FILE = ".serval-build-id"


def _define_builders() -> None:
    """Imports TensorFlow (seconds) and defines the builders; only when something must be built."""
    global tf
    import tensorflow as tf  # noqa: F811

    def _example_spec(feature: str):
        return {feature: tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])}


    class HalfPlusTwo(tf.Module):
        """TF Serving's half_plus_two, every signature kind, TF2 style."""

        def __init__(self):
            super().__init__()
            self.a = tf.Variable(0.5, name="a")
            self.b = tf.Variable(2.0, name="b")
            self.c = tf.Variable(3.0, name="c")

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def predict(self, x):
            return {"y": self.a * x + self.b}

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def custom(self, x):
            return {"out": self.a * x + self.c}

        def _parse(self, serialized, feature):
            return tf.io.parse_example(serialized, _example_spec(feature))[feature]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def classify_x_to_y(self, inputs):
            return {"scores": self.a * self._parse(inputs, "x") + self.b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def regress_x_to_y(self, inputs):
            return {"outputs": self.a * self._parse(inputs, "x") + self.b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def regress_x2_to_y3(self, inputs):
            return {"outputs": self.a * self._parse(inputs, "x2") + self.c}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def classify_x2_to_y3(self, inputs):
            return {"scores": self.a * self._parse(inputs, "x2") + self.c}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def classify_with_classes(self, inputs):
            y = self.a * self._parse(inputs, "x") + self.b
            scores = tf.concat([1.0 - y, y], axis=1)
            classes = tf.tile(tf.constant([["neg", "pos"]]), [tf.shape(y)[0], 1])
            return {"classes": classes, "scores": scores}


    def _with_method(export_dir: str, methods: dict[str, str]) -> None:
        """Rewrites SignatureDef.method_name (tf.saved_model.save writes predict for every signature; TF Serving's
        Classify/Regress check the method name, as TF Serving's own half_plus_two export sets it)."""
        from tensorflow.core.protobuf import saved_model_pb2

        path = os.path.join(export_dir, "saved_model.pb")
        sm = saved_model_pb2.SavedModel()
        with open(path, "rb") as f:
            sm.ParseFromString(f.read())
        for mg in sm.meta_graphs:
            for key, method in methods.items():
                mg.signature_def[key].method_name = method
        with open(path, "wb") as f:
            f.write(sm.SerializeToString())


    def build_half_plus_two(out: str) -> None:
        m = HalfPlusTwo()
        sigs = {
            "serving_default": m.predict,
            "custom_key": m.custom,
            "classify_x_to_y": m.classify_x_to_y,
            "regress_x_to_y": m.regress_x_to_y,
            "regress_x2_to_y3": m.regress_x2_to_y3,
            "classify_x2_to_y3": m.classify_x2_to_y3,
            "classify_with_classes": m.classify_with_classes,
        }
        tf.saved_model.save(m, out, signatures=sigs)
        classify, regress = "tensorflow/serving/classify", "tensorflow/serving/regress"
        _with_method(out, {"classify_x_to_y": classify, "classify_x2_to_y3": classify, "classify_with_classes": classify,
                           "regress_x_to_y": regress, "regress_x2_to_y3": regress})


    def build_half_plus_three_tf1(out: str) -> None:
        v1 = tf.compat.v1
        graph = tf.Graph()
        with graph.as_default():
            x = v1.placeholder(tf.float32, shape=[None, 1], name="x")
            a = v1.Variable(0.5, name="a")
            c = v1.Variable(3.0, name="c")
            y = tf.add(a * x, c, name="y")
            serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
            parsed = v1.io.parse_example(serialized, _example_spec("x"))
            scores = tf.add(a * parsed["x"], c, name="scores")
            with v1.Session(graph=graph) as sess:
                sess.run(v1.global_variables_initializer())
                builder = v1.saved_model.Builder(out)
                predict = v1.saved_model.predict_signature_def(inputs={"x": x}, outputs={"y": y})
                classify = v1.saved_model.classification_signature_def(examples=serialized, classes=None, scores=scores)
                builder.add_meta_graph_and_variables(
                    sess, [v1.saved_model.tag_constants.SERVING],
                    signature_def_map={"serving_default": predict, "classify": classify})
                builder.save()


    class Multitype(tf.Module):
        TYPES = {"float": tf.float32, "double": tf.float64, "int32": tf.int32, "int64": tf.int64,
                 "string": tf.string, "bool": tf.bool, "half": tf.float16, "uint8": tf.uint8, "int8": tf.int8,
                 "int16": tf.int16}


    def build_tf_multitype(out: str) -> None:
        m = Multitype()
        sigs = {}
        for name, dtype in Multitype.TYPES.items():
            fn = tf.function(lambda t, n=name: {f"out_{n}": tf.identity(t)},
                             input_signature=[tf.TensorSpec([None, None], dtype, name=f"in_{name}")])
            setattr(m, f"identity_{name}", fn)
            sigs[name] = fn
        sigs["serving_default"] = sigs["float"]
        tf.saved_model.save(m, out, signatures=sigs)


    class AnyRank(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
        def serve(self, x):
            return {"y": x * 2.0}


    def build_tf_anyrank(out: str) -> None:
        m = AnyRank()
        tf.saved_model.save(m, out, signatures={"serving_default": m.serve})


    class Slow(tf.Module):
        """Spins for about x[0] seconds (bounded at 30 s): for deadline and drain tests."""

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            seconds = tf.minimum(x[0], 30.0)
            start = tf.timestamp()

            def cond(i, now):
                return now - start < tf.cast(seconds, tf.float64)

            def body(i, now):
                return i + 1, tf.timestamp()

            i, _ = tf.while_loop(cond, body, [tf.constant(0), start])
            return {"y": x + tf.cast(i * 0, tf.float32)}


    def build_tf_slow(out: str) -> None:
        m = Slow()
        tf.saved_model.save(m, out, signatures={"serving_default": m.serve})


    def _keras_export(model, out: str, spec) -> None:
        @tf.function(input_signature=spec)
        def serve(*args):
            result = model(args[0] if len(args) == 1 else list(args), training=False)
            return {"output_0": result}

        module = tf.Module()
        module.model = model
        module.serve = serve
        tf.saved_model.save(module, out, signatures={"serving_default": serve})


    def build_tf_resnet50(out: str) -> None:
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.applications.ResNet50(weights=None)
        _keras_export(model, out, [tf.TensorSpec([None, 224, 224, 3], tf.float32, name="input")])


    def build_tf_bert(out: str) -> None:
        """BERT-base-shaped encoder: 12 layers, hidden 768, 12 heads, FFN 3072, sequence 128, vocab 30522."""
        tf.keras.utils.set_random_seed(0)
        layers = tf.keras.layers
        ids = tf.keras.Input(shape=(128,), dtype="int32", name="input_ids")
        h = layers.Embedding(30522, 768)(ids)
        h = h + layers.Embedding(128, 768)(tf.range(128))[tf.newaxis]
        h = layers.LayerNormalization(epsilon=1e-12)(h)
        for _ in range(12):
            att = layers.MultiHeadAttention(num_heads=12, key_dim=64)(h, h)
            h = layers.LayerNormalization(epsilon=1e-12)(h + att)
            ff = layers.Dense(768)(layers.Dense(3072, activation="gelu")(h))
            h = layers.LayerNormalization(epsilon=1e-12)(h + ff)
        model = tf.keras.Model(ids, h[:, 0, :])
        _keras_export(model, out, [tf.TensorSpec([None, 128], tf.int32, name="input_ids")])


    globals().update({k: v for k, v in locals().items() if k != "tf"})


# name -> (builder, [version dir names], big)
MODELS = {
    "half_plus_two": ("build_half_plus_two", ["00000123", "00000124"], False),
    "half_plus_three_tf1": ("build_half_plus_three_tf1", ["1"], False),
    "tf_multitype": ("build_tf_multitype", ["1"], False),
    "tf_anyrank": ("build_tf_anyrank", ["1"], False),
    "tf_slow": ("build_tf_slow", ["1"], False),
    "tf_resnet50": ("build_tf_resnet50", ["1"], True),
    "tf_bert": ("build_tf_bert", ["1"], True),
}


def _build_id() -> str:
    from importlib.metadata import version

    h = hashlib.sha256()
    h.update(f"{GENERATOR_VERSION} {version('tensorflow')}".encode())
    h.update(inspect.getsource(sys.modules[__name__]).encode())
    return h.hexdigest()[:32]


def build(out_root: str, name: str) -> None:
    builder_name, versions, _ = MODELS[name]
    build_id = _build_id()
    for version in versions:
        final = os.path.join(out_root, name, version)
        id_file = os.path.join(final, BUILD_ID_FILE)
        if os.path.exists(id_file) and open(id_file).read().strip() == build_id:
            continue
        if "tf" not in globals():
            _define_builders()
        builder = globals()[builder_name]
        start = time.time()
        os.makedirs(os.path.join(out_root, name), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{version}.", dir=os.path.join(out_root, name))
        export = os.path.join(tmp, "export")
        builder(export)
        with open(os.path.join(export, BUILD_ID_FILE), "w") as f:
            f.write(build_id + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(export, final)
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"built {name} v{version} in {time.time() - start:.1f}s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--big", action="store_true", help="also the Keras ResNet-50 and the BERT-shaped encoder")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or [n for n, (_, _, big) in MODELS.items() if args.big or not big]
    for n in names:
        if n not in MODELS:
            print(f"unknown model {n!r}; known: {', '.join(MODELS)}", file=sys.stderr)
            return 2
    np.random.seed(0)
    for n in names:
        build(args.out, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
