"""convert: TF SavedModel / Keras model / TF Serving base path -> Serval's <out_base>/<version>/model.onnx.

Every signature becomes its own ONNX graph in the version directory, described by signatures.json
(docs/signature-file.md). A tf.Example signature (DT_STRING input parsed by ParseExample/ParseExampleV2) is cut
after parsing: its ONNX graph takes the parsed feature tensors, and the feature spec goes into signatures.json.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .savedmodel import (SignatureInfo, graph_file_name, read_signatures, unknown_op_error)
from .util import ToolError, is_saved_model, is_version_name, log, version_dirs, write_report

DEFAULT_OPSET = 17
WARMUP_RELPATH = Path("assets.extra") / "tf_serving_warmup_requests"
_PARSE_OPS = ("ParseExampleV2", "ParseExample")


def converter_version() -> str:
    import tf2onnx

    return f"tf2onnx {tf2onnx.__version__}"


def _dtype_name(enum_value: int) -> str:
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(enum_value)


def _const_value(node: Any):
    from tensorflow.python.framework import tensor_util

    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _split_input(name: str) -> tuple[str, int]:
    name = name.lstrip("^")
    if ":" in name:
        node, index = name.rsplit(":", 1)
        return node, int(index)
    return name, 0


def _safe_name(feature: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", feature) or "feature"
    if base[0].isdigit():
        base = "f_" + base
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def cut_parse_example(graph_def: Any) -> tuple[Any, list[str], dict[str, Any], dict[str, str]] | None:
    """Replaces every ParseExample(V2) output the model uses by a Placeholder.

    Returns (new graph_def, new input tensor names, feature spec for signatures.json, tensor -> ONNX name), or
    None when the graph parses no tf.Example. Dense features become one input each ("fixed_len"); a sparse
    feature ("var_len") becomes three: values, indices [N, 2] and dense_shape [2].
    """
    from tensorflow.core.framework import graph_pb2, node_def_pb2, tensor_shape_pb2, types_pb2

    nodes = {n.name: n for n in graph_def.node}
    parse_nodes = [n for n in graph_def.node if n.op in _PARSE_OPS]
    if not parse_nodes:
        return None
    taken = set(nodes)
    reroute: dict[str, str] = {}  # "parse:k" -> "placeholder:0"
    new_inputs: list[str] = []
    features: dict[str, Any] = {}
    renames: dict[str, str] = {}
    placeholders = []

    def add_placeholder(name: str, dtype: int, shape: list[int]) -> str:
        node = node_def_pb2.NodeDef(name=name, op="Placeholder")
        node.attr["dtype"].type = dtype
        proto = tensor_shape_pb2.TensorShapeProto()
        for d in shape:
            proto.dim.add(size=d)
        node.attr["shape"].shape.CopyFrom(proto)
        placeholders.append(node)
        new_inputs.append(name + ":0")
        renames[name + ":0"] = name
        return name + ":0"

    def key_values(input_names: list[str]) -> list[str]:
        keys: list[str] = []
        for ref in input_names:
            node = nodes[_split_input(ref)[0]]
            if node.op != "Const":
                raise ToolError(f"ParseExample node keys are not constants ({node.name} is {node.op})")
            keys.extend(k.decode() if isinstance(k, bytes) else str(k) for k in _const_value(node).reshape(-1))
        return keys

    for parse in parse_nodes:
        data_inputs = [i for i in parse.input if not i.startswith("^")]
        num_sparse = parse.attr["num_sparse"].i if parse.op == "ParseExampleV2" else parse.attr["Nsparse"].i
        dense_types = list(parse.attr["Tdense"].list.type)
        sparse_types = list(parse.attr["sparse_types"].list.type)
        dense_shapes = [[int(d.size) for d in s.dim] for s in parse.attr["dense_shapes"].list.shape]
        num_dense = len(dense_types)
        if parse.op == "ParseExampleV2":
            if parse.attr["ragged_value_types"].list.type:
                raise ToolError(f"ParseExampleV2 node {parse.name} has ragged features; only FixedLenFeature and "
                                f"VarLenFeature are supported")
            sparse_keys = key_values([data_inputs[2]])
            dense_keys = key_values([data_inputs[3]])
            defaults = data_inputs[5:5 + num_dense]
        else:
            sparse_keys = key_values(data_inputs[2:2 + num_sparse])
            dense_keys = key_values(data_inputs[2 + num_sparse:2 + num_sparse + num_dense])
            defaults = data_inputs[2 + num_sparse + num_dense:2 + num_sparse + 2 * num_dense]
        for i, feature in enumerate(dense_keys):
            name = _safe_name(feature, taken)
            tensor = add_placeholder(name, dense_types[i], [-1] + dense_shapes[i])
            reroute[f"{parse.name}:{3 * num_sparse + i}"] = tensor
            default_node = nodes[_split_input(defaults[i])[0]]
            default = None
            if default_node.op == "Const":
                value = _const_value(default_node)
                if value.size:
                    default = [v.decode() if isinstance(v, bytes) else v.item() for v in value.reshape(-1)]
            features[feature] = {"onnx_name": name, "kind": "fixed_len", "dtype": _dtype_name(dense_types[i]),
                                 "shape": dense_shapes[i], "default": default}
        for j, feature in enumerate(sparse_keys):
            name = _safe_name(feature, taken)
            values = add_placeholder(name, sparse_types[j], [-1])
            indices = add_placeholder(_safe_name(feature + "_indices", taken), types_pb2.DT_INT64, [-1, 2])
            shape = add_placeholder(_safe_name(feature + "_dense_shape", taken), types_pb2.DT_INT64, [2])
            reroute[f"{parse.name}:{j}"] = indices
            reroute[f"{parse.name}:{num_sparse + j}"] = values
            reroute[f"{parse.name}:{2 * num_sparse + j}"] = shape
            features[feature] = {"onnx_name": name, "kind": "var_len", "dtype": _dtype_name(sparse_types[j]),
                                 "shape": [-1], "default": None,
                                 "onnx_indices": renames[indices], "onnx_dense_shape": renames[shape]}

    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        for k, ref in enumerate(node.input):
            if ref.startswith("^"):
                continue
            node_name, index = _split_input(ref)
            key = f"{node_name}:{index}"
            if key in reroute:
                node.input[k] = reroute[key]
    out.node.extend(placeholders)
    return out, new_inputs, features, renames


def _unconverted_ops(model_proto: Any) -> list[str]:
    """tf2onnx leaves a TF op it cannot convert in the graph under its TF name: every node whose (op, domain)
    ONNX does not define. The com.microsoft / contrib domains are ONNX Runtime's and run there."""
    import onnx.defs

    bad = set()
    for node in model_proto.graph.node:
        if node.domain in ("", "ai.onnx", "ai.onnx.ml") and not onnx.defs.has(node.op_type, node.domain):
            bad.add(node.op_type)
        elif node.domain not in ("", "ai.onnx", "ai.onnx.ml", "com.microsoft", "ai.onnx.contrib"):
            bad.add(f"{node.domain}:{node.op_type}")
    return sorted(bad)


def _tf2onnx(graph_def: Any, name: str, input_names: list[str], output_names: list[str], opset: int,
             tensors_to_rename: dict[str, str], tables: Any) -> tuple[Any, list[str]]:
    """tf2onnx's from_graph_def plus the SavedModel's initialized lookup tables. Returns the ONNX model and the TF
    ops it could not convert (tf2onnx leaves those in the graph: such a model must not be published)."""
    import tensorflow as tf
    from tf2onnx import convert as tf2onnx_convert
    from tf2onnx import tf_loader

    with tf.device("/cpu:0"):
        with tf.Graph().as_default() as graph:
            with tf_loader.tf_session(graph=graph) as sess:
                tf.import_graph_def(graph_def, name="")
                input_names = tf_loader.inputs_without_resource(sess, input_names)
                optimized = tf_loader.tf_optimize(input_names, output_names, graph_def)
    model_proto, _ = tf2onnx_convert._convert_common(
        optimized, name=name, continue_on_error=True, opset=opset, input_names=input_names,
        output_names=output_names, tensors_to_rename=tensors_to_rename, initialized_tables=tables)
    return model_proto, _unconverted_ops(model_proto)


def convert_signature(saved_model_dir: Path, tags: list[str], sig: SignatureInfo, opset: int,
                      out_path: Path) -> dict[str, Any]:
    """Converts one signature to `out_path`; returns its signatures.json entry (plus 'report' details)."""
    import onnx
    from tf2onnx import tf_loader

    start = time.monotonic()
    try:
        frozen, input_names, output_names, tables, tensors_to_rename = tf_loader.from_saved_model(
            str(saved_model_dir), None, None, tag=",".join(tags), signatures=[sig.key],
            return_initialized_tables=True, return_tensors_to_rename=True)
    except Exception as error:
        refusal = unknown_op_error(error, saved_model_dir)
        if refusal:
            raise refusal from None
        raise ToolError(f"cannot load signature {sig.key!r} of {saved_model_dir}: {error}") from None
    tensors_to_rename = dict(tensors_to_rename or {})
    cut = cut_parse_example(frozen)
    features = None
    if cut is not None:
        frozen, input_names, features, renames = cut
        # the serialized-string input is no input of the cut graph
        tensors_to_rename = {k: v for k, v in tensors_to_rename.items() if k not in renames and k in output_names}
        tensors_to_rename.update(renames)
        log(f"  {sig.key}: tf.Example signature: graph cut after parsing; features {sorted(features)}")
    try:
        model_proto, unsupported = _tf2onnx(frozen, sig.key, input_names, output_names, opset, tensors_to_rename,
                                            tables)
    except Exception as error:
        raise ToolError(f"cannot convert signature {sig.key!r} of {saved_model_dir}: "
                        f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
    if unsupported:
        raise ToolError(f"cannot convert signature {sig.key!r} of {saved_model_dir}: op(s) "
                        f"{', '.join(repr(o) for o in unsupported)} have no ONNX conversion in "
                        f"{converter_version()} at opset {opset} (a custom op, TF Text, or a TF op tf2onnx does "
                        f"not cover); move that step out of the model and export again")
    onnx.save(model_proto, str(out_path))
    onnx_inputs = [i.name for i in model_proto.graph.input]
    onnx_outputs = [o.name for o in model_proto.graph.output]

    entry: dict[str, Any] = {"method_name": sig.method_name, "graph": out_path.name, "inputs": {}, "outputs": {}}
    if features is not None:
        string_inputs = [a for a, s in sig.inputs.items() if s.dtype == "DT_STRING"]
        for alias, spec in sig.inputs.items():
            item = spec.as_json()
            if alias in string_inputs and len(string_inputs) == 1:
                item["parse_example"] = features
            entry["inputs"][alias] = item
    else:
        for alias, spec in sig.inputs.items():
            item = {"onnx_name": alias if alias in onnx_inputs else tensors_to_rename.get(spec.tf_name, alias)}
            item.update(spec.as_json())
            entry["inputs"][alias] = item
    for alias, spec in sig.outputs.items():
        item = {"onnx_name": alias if alias in onnx_outputs else spec.tf_name}
        item.update(spec.as_json())
        entry["outputs"][alias] = item
    missing = [e["onnx_name"] for e in entry["outputs"].values() if e["onnx_name"] not in onnx_outputs]
    if missing:
        raise ToolError(f"signature {sig.key!r}: converted graph lacks outputs {missing} (has {onnx_outputs})")
    entry["report"] = {"seconds": round(time.monotonic() - start, 2), "onnx_inputs": onnx_inputs,
                       "onnx_outputs": onnx_outputs, "nodes": len(model_proto.graph.node),
                       "bytes": out_path.stat().st_size}
    return entry


def convert_version(saved_model_dir: Path, out_dir: Path, tags: list[str], opset: int,
                    only: list[str] | None) -> dict[str, Any]:
    """Converts one SavedModel into the version directory `out_dir` (written whole, then renamed in place)."""
    sigs = read_signatures(saved_model_dir, tags)
    if not sigs:
        raise ToolError(f"{saved_model_dir}: the SavedModel has no signatures")
    keys = list(sigs)
    if only:
        unknown = [k for k in only if k not in sigs]
        if unknown:
            raise ToolError(f"{saved_model_dir}: no signature(s) {unknown} (has {keys})")
        keys = only
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ToolError(f"{out_dir} exists already; choose another --version or remove it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        doc: dict[str, Any] = {
            "format": "serval.signatures.v1",
            "source": {"kind": "saved_model", "tags": tags, "converter": converter_version(), "opset": opset},
            "signatures": {},
        }
        report_sigs = {}
        for n, key in enumerate(keys, 1):
            log(f"converting {saved_model_dir} signature {key!r} ({n}/{len(keys)}, opset {opset})")
            entry = convert_signature(saved_model_dir, tags, sigs[key], opset, staging / graph_file_name(key))
            report_sigs[key] = entry.pop("report")
            doc["signatures"][key] = entry
        if "serving_default" not in doc["signatures"]:
            log("  note: no serving_default signature: model.onnx (what Serval serves by default) is absent")
        warmup = Path(saved_model_dir) / WARMUP_RELPATH
        carried = None
        if warmup.exists():
            (staging / WARMUP_RELPATH).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(warmup, staging / WARMUP_RELPATH)
            carried = {"path": str(WARMUP_RELPATH), "records_by_signature": _warmup_signatures(warmup)}
            log(f"  carried {WARMUP_RELPATH} over ({carried['records_by_signature']})")
            others = [k for k in carried["records_by_signature"] if k != "serving_default"]
            if others:
                log(f"  note: warm-up records for {others} need a server that serves those signatures "
                    f"(signatures.json); a server serving model.onnx alone fails such a record")
        import json

        (staging / "signatures.json").write_text(json.dumps(doc, indent=2) + "\n")
        staging.chmod(0o755)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"source": str(saved_model_dir), "out": str(out_dir), "signatures": report_sigs,
            "warmup_carried": carried}


def _warmup_signatures(path: Path) -> dict[str, int]:
    from .samples import read_warmup

    counts: dict[str, int] = {}
    for entry in read_warmup(path):
        kind = entry.WhichOneof("log_type")
        request = getattr(entry, kind).request if kind else None
        if kind == "multi_inference_log":
            name = request.tasks[0].model_spec.signature_name if request.tasks else ""
        else:
            name = request.model_spec.signature_name if request is not None else ""
        counts[name or "serving_default"] = counts.get(name or "serving_default", 0) + 1
    return counts


def _keras_to_saved_model(path: Path, workdir: Path) -> Path:
    import tensorflow as tf

    log(f"loading Keras model {path}")
    model = tf.keras.models.load_model(str(path), compile=False)
    out = workdir / "saved_model"
    tf.saved_model.save(model, str(out))
    return out


def run(args: Any) -> int:
    src = Path(args.source)
    out_base = Path(args.out)
    tags = [t for t in args.tags.split(",") if t]
    only = [s for s in args.signatures.split(",") if s] if args.signatures else None
    if not src.exists():
        raise ToolError(f"{src}: no such file or directory")
    jobs: list[tuple[Path, str]] = []
    tmp = None
    try:
        if src.is_file() and src.suffix in (".keras", ".h5", ".hdf5"):
            tmp = Path(tempfile.mkdtemp(prefix="serval-model-keras."))
            jobs.append((_keras_to_saved_model(src, tmp), args.version or "1"))
        elif is_saved_model(src):
            version = args.version or (str(int(src.name)) if is_version_name(src.name) else "1")
            jobs.append((src, version))
        elif src.is_dir():
            versions = version_dirs(src)
            if not versions:
                raise ToolError(f"{src}: neither a SavedModel nor a base path with numeric version directories")
            if args.version:
                raise ToolError("--version applies to a single SavedModel; a base path keeps its version numbers")
            numbers = [int(v.name) for v in versions]
            if len(set(numbers)) != len(numbers):
                raise ToolError(f"{src}: two version directories name the same number ({[v.name for v in versions]})")
            for v in versions:
                if not is_saved_model(v):
                    raise ToolError(f"{v}: version directory holds no saved_model.pb")
                # written as the plain number: Serval looks for <base>/<number>/model.onnx
                jobs.append((v, str(int(v.name))))
        else:
            raise ToolError(f"{src}: not a SavedModel directory, a TF Serving base path or a .keras/.h5 file")
        if not is_version_name(str(jobs[0][1])):
            raise ToolError(f"--version must be a non-negative integer, got {jobs[0][1]!r}")
        results = []
        for saved_model, version in jobs:
            results.append(convert_version(saved_model, out_base / str(version), tags, args.opset, only))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    report = {"command": "convert", "converter": converter_version(), "opset": args.opset,
              "opset_reason": args.opset_reason, "versions": results}
    report_path = Path(args.report) if args.report else out_base / "convert-report.json"
    write_report(report_path, report)
    for r in results:
        print(f"converted {r['source']} -> {r['out']} ({len(r['signatures'])} signature(s))")
    return 0
