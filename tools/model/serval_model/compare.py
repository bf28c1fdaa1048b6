"""compare: the same inputs through two models, outputs diffed per output, speeds measured.

A and B are each a TF SavedModel (run in process with TensorFlow), an ONNX version directory or .onnx file (run in
process with ONNX Runtime), or, with --served URL, a model on a running Serval ("name", "name:label" or
"name:version"), asked over REST.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import samples
from .onnxrun import OnnxSignature
from .util import ToolError, is_saved_model, log, write_report


# ---- metrics ----------------------------------------------------------------------------------------------

def is_classifier_output(value: np.ndarray) -> bool:
    return value.dtype.kind == "f" and value.ndim == 2 and value.shape[1] > 1


def output_stats(ref: np.ndarray, got: np.ndarray, atol: float, rtol: float,
                 min_top1: float | None) -> dict[str, Any]:
    ref = np.asarray(ref)
    got = np.asarray(got)
    stats: dict[str, Any] = {"shape_a": list(ref.shape), "shape_b": list(got.shape)}
    if ref.shape != got.shape:
        stats.update(ok=False, error=f"shapes differ: {list(ref.shape)} vs {list(got.shape)}")
        return stats
    if ref.dtype.kind in ("O", "S", "U") or got.dtype.kind in ("O", "S", "U"):
        equal = np.mean([a == b for a, b in zip(ref.reshape(-1), got.reshape(-1))]) if ref.size else 1.0
        stats.update(kind="strings", equal_fraction=float(equal), ok=bool(equal == 1.0))
        return stats
    a = ref.astype(np.float64)
    b = got.astype(np.float64)
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(a) > 0, diff / np.abs(a), np.where(diff > 0, np.inf, 0.0))
    violations = int(np.count_nonzero(diff > atol + rtol * np.abs(a)))
    stats.update(max_abs_error=float(diff.max()) if diff.size else 0.0,
                 max_rel_error=float(rel.max()) if rel.size else 0.0,
                 mean_abs_error=float(diff.mean()) if diff.size else 0.0,
                 max_abs_reference=float(np.abs(a).max()) if a.size else 0.0,
                 out_of_tolerance=violations, elements=int(a.size), atol=atol, rtol=rtol)
    if is_classifier_output(ref):
        agree = float(np.mean(np.argmax(a, axis=1) == np.argmax(b, axis=1)))
        stats["top1_agreement"] = agree
        stats["examples"] = int(a.shape[0])
        if min_top1 is not None:
            stats["ok"] = agree >= min_top1
            stats["judged_by"] = f"top-1 agreement >= {min_top1}"
            return stats
    stats["ok"] = violations == 0
    stats["judged_by"] = "|a-b| <= atol + rtol*|a| elementwise"
    return stats


def compare_outputs(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], atol: float, rtol: float,
                    min_top1: float | None) -> dict[str, Any]:
    result = {}
    for alias in ref:
        if alias not in got:
            result[alias] = {"ok": False, "error": "missing in B"}
            continue
        result[alias] = output_stats(ref[alias], got[alias], atol, rtol, min_top1)
    for alias in got:
        if alias not in ref:
            result[alias] = {"ok": False, "error": "missing in A"}
    return result


# ---- in-process sides -------------------------------------------------------------------------------------

class TfSide:
    kind = "tensorflow"

    def __init__(self, path: Path, tags: list[str]):
        from .savedmodel import TfRunner

        log(f"loading SavedModel {path} with TensorFlow")
        self.runner = TfRunner(path, tags)
        self.path = path

    def signatures(self) -> list[str]:
        return list(self.runner.signatures)

    def run(self, key: str, batch: dict[str, Any], examples: np.ndarray | None, alias: str | None):
        if examples is not None:
            return self.runner.run(key, {alias: examples})
        return self.runner.run(key, batch)

    def time_ms(self, key: str, batch, examples, alias, runs: int, max_seconds: float = 20.0) -> float:
        self.run(key, batch, examples, alias)
        start = time.perf_counter()
        done = 0
        while done < runs and time.perf_counter() - start < max_seconds:
            self.run(key, batch, examples, alias)
            done += 1
        return (time.perf_counter() - start) * 1000.0 / max(done, 1)


def _example_alias(tf_side: TfSide, key: str, onnx_sig: OnnxSignature) -> str:
    if onnx_sig.example_alias:
        return onnx_sig.example_alias
    strings = [a for a, s in tf_side.runner.signatures[key].inputs.items() if s.dtype == "DT_STRING"]
    return strings[0]


def make_batches(args: Any, sig: OnnxSignature) -> tuple[list[dict[str, Any]], str]:
    """Batches to feed (by alias, or by feature for tf.Example signatures) and a word for where they came from.

    A batch from a warm-up file's classify/regress record carries its serialized examples under "__examples__"."""
    if args.npz:
        data = samples.load_npz(Path(args.npz))
        return samples.split_batch(data, args.batch) if args.split else [data], f"npz {args.npz}"
    if args.warmup:
        records = samples.warmup_batches(Path(args.warmup), sig.key)
        if not records:
            raise ToolError(f"{args.warmup}: no records for signature {sig.key!r}")
        batches = []
        for r in records:
            if r["kind"] == "predict":
                if sig.features is not None:
                    raise ToolError(f"{args.warmup}: a predict record for tf.Example signature {sig.key!r}")
                batches.append(r["inputs"])
            else:
                if sig.features is None:
                    raise ToolError(f"{args.warmup}: a classify/regress record for predict signature {sig.key!r}")
                batch = samples.features_from_examples(r["examples"], sig.features)
                batch["__examples__"] = np.array(r["examples"], dtype=object)
                batches.append(batch)
        return batches, f"warm-up file {args.warmup} ({len(batches)} records)"
    if sig.features is not None and any(f["kind"] == "var_len" for f in sig.features.values()):
        batches = []
        for i in range(args.num_batches):
            examples = samples.random_examples(sig.features, args.batch, args.seed + i, args.int_high)
            batch = samples.features_from_examples(list(examples), sig.features)
            batch["__examples__"] = examples
            batches.append(batch)
        return batches, f"random tf.Examples from the feature spec (seed {args.seed})"
    spec = sig.input_spec()
    return [samples.random_batch(spec, args.batch, args.seed + i, args.free_dim, args.int_high)
            for i in range(args.num_batches)], f"random from the signature (seed {args.seed})"


def _split_examples(batch: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray | None]:
    batch = dict(batch)
    examples = batch.pop("__examples__", None)
    return batch, examples


def compare_in_process(args: Any) -> dict[str, Any]:
    a_path, b_path = Path(args.a), Path(args.b)
    if is_saved_model(b_path) and not is_saved_model(a_path):
        raise ToolError("put the SavedModel first: compare SAVED_MODEL ONNX")
    if is_saved_model(a_path):
        a_side: Any = TfSide(a_path, [t for t in args.tags.split(",") if t])
    else:
        a_side = None
    keys = [k for k in args.signature.split(",") if k] if args.signature else None
    if keys is None:
        doc_keys = None
        if b_path.is_dir() and (b_path / "signatures.json").exists():
            doc_keys = list(json.loads((b_path / "signatures.json").read_text())["signatures"])
        keys = doc_keys or ["serving_default"]
        if a_side is not None:
            keys = [k for k in keys if k in a_side.signatures()]
    providers = None
    report: dict[str, Any] = {"a": str(a_path), "b": str(b_path), "signatures": {}}
    all_ok = True
    for key in keys:
        log(f"comparing signature {key!r}")
        b_sig = OnnxSignature(b_path, key, providers)
        a_sig = OnnxSignature(a_path, key, providers) if a_side is None else None
        batches, source = make_batches(args, b_sig)
        ref_parts, got_parts = [], []
        for n, batch in enumerate(batches):
            feats, examples = _split_examples(batch)
            if a_side is not None:
                alias = None
                if b_sig.features is not None:
                    alias = _example_alias(a_side, key, b_sig)
                    if examples is None:
                        examples = samples.examples_from_features(feats, b_sig.features)
                ref = a_side.run(key, feats, examples, alias)
            else:
                ref = a_sig.run(feats)
            got = b_sig.run(feats)
            ref_parts.append(ref)
            got_parts.append(got)
        ref_all = {k: np.concatenate([np.atleast_1d(p[k]) for p in ref_parts]) for k in ref_parts[0]}
        got_all = {k: np.concatenate([np.atleast_1d(p[k]) for p in got_parts]) for k in got_parts[0]}
        if a_side is not None:  # the TF signature may return outputs the ONNX graph was not asked for
            ref_all = {k: v for k, v in ref_all.items() if k in got_all or k in b_sig.output_aliases()}
        outputs = compare_outputs(ref_all, got_all, args.atol, args.rtol, args.min_top1)
        ok = all(o.get("ok") for o in outputs.values())
        all_ok = all_ok and ok
        entry: dict[str, Any] = {"inputs": source, "batches": len(batches), "outputs": outputs, "ok": ok,
                                 "method_name": b_sig.method_name,
                                 "compared_on": "parsed features (graph cut after ParseExample)"
                                 if b_sig.features is not None else "signature inputs"}
        if args.runs > 0:
            feats, examples = _split_examples(batches[0])
            n_examples = len(examples) if examples is not None else len(next(iter(feats.values())))
            if a_side is not None:
                alias = _example_alias(a_side, key, b_sig) if b_sig.features is not None else None
                if b_sig.features is not None and examples is None:
                    examples = samples.examples_from_features(feats, b_sig.features)
                a_ms = a_side.time_ms(key, feats, examples, alias, args.runs)
            else:
                a_ms = a_sig.time_ms(feats, args.runs)
            b_ms = b_sig.time_ms(feats, args.runs)
            entry["speed"] = {"batch_size": n_examples, "runs": args.runs, "a_ms_per_batch": round(a_ms, 4),
                              "b_ms_per_batch": round(b_ms, 4), "a_over_b": round(a_ms / b_ms, 3) if b_ms else None,
                              "a_runtime": "tensorflow" if a_side is not None else "onnxruntime",
                              "b_runtime": "onnxruntime"}
        report["signatures"][key] = entry
        _print_signature(key, entry)
    report["ok"] = all_ok
    return report


def _print_signature(key: str, entry: dict[str, Any]) -> None:
    print(f"signature {key}: {'OK' if entry['ok'] else 'MISMATCH'} ({entry['inputs']})")
    for alias, o in entry["outputs"].items():
        if "error" in o:
            print(f"  {alias}: {o['error']}")
            continue
        if o.get("kind") == "strings":
            print(f"  {alias}: strings equal {o['equal_fraction']:.3f}")
            continue
        line = f"  {alias}: max_abs {o['max_abs_error']:.3g} max_rel {o['max_rel_error']:.3g}"
        if "top1_agreement" in o:
            line += f" top1 {o['top1_agreement'] * 100:.2f}% of {o['examples']}"
        print(line + ("" if o["ok"] else "  <-- out of tolerance"))
    if "speed" in entry:
        s = entry["speed"]
        print(f"  speed: A {s['a_ms_per_batch']:.3f} ms, B {s['b_ms_per_batch']:.3f} ms per batch of "
              f"{s['batch_size']} ({s['a_runtime']} vs {s['b_runtime']})")


# ---- served mode ------------------------------------------------------------------------------------------

def _route(url: str, spec: str) -> str:
    name, _, which = spec.partition(":")
    if not name:
        raise ToolError(f"bad model spec {spec!r}: use NAME, NAME:LABEL or NAME:VERSION")
    base = f"{url.rstrip('/')}/v1/models/{name}"
    if not which:
        return base
    return f"{base}/versions/{which}" if which.isdigit() else f"{base}/labels/{which}"


def _served_spec(session: Any, route: str, signature: str) -> tuple[dict[str, tuple[str, list[int]]], list[str]]:
    r = session.get(route + "/metadata", timeout=30)
    if r.status_code != 200:
        raise ToolError(f"GET {route}/metadata: HTTP {r.status_code}: {r.text[:300]}")
    sigs = r.json()["metadata"]["signature_def"]["signature_def"]
    if signature not in sigs:
        raise ToolError(f"{route}: no signature {signature!r} (has {sorted(sigs)})")
    spec = {}
    for alias, info in sigs[signature]["inputs"].items():
        dims = info.get("tensor_shape", {}).get("dim", [])
        spec[alias] = (info["dtype"], [int(d["size"]) for d in dims])
    return spec, list(sigs[signature].get("outputs", {}))


def _to_json(value: np.ndarray) -> Any:
    if value.dtype == object:
        return [v.decode() if isinstance(v, bytes) else v for v in value.reshape(-1)]
    return value.tolist()


def _predict(session: Any, route: str, signature: str, batch: dict[str, np.ndarray],
             output_aliases: list[str]) -> dict[str, np.ndarray]:
    body = {"signature_name": signature, "inputs": {k: _to_json(v) for k, v in batch.items()}}
    r = session.post(route + ":predict", data=json.dumps(body), timeout=60)
    if r.status_code != 200:
        raise ToolError(f"POST {route}:predict: HTTP {r.status_code}: {r.text[:300]}")
    outputs = r.json()["outputs"]
    if not isinstance(outputs, dict):  # TF Serving's columnar answer for a single output is the bare value
        outputs = {output_aliases[0] if len(output_aliases) == 1 else "outputs": outputs}
    return {k: np.asarray(v) for k, v in outputs.items()}


def compare_served(args: Any) -> dict[str, Any]:
    import requests

    session = requests.Session()
    a_route, b_route = _route(args.served, args.a), _route(args.served, args.b)
    key = args.signature or "serving_default"
    spec, output_aliases = _served_spec(session, a_route, key)
    if args.npz:
        batches = [samples.load_npz(Path(args.npz))]
        source = f"npz {args.npz}"
    elif args.warmup:
        batches = [r["inputs"] for r in samples.warmup_batches(Path(args.warmup), key) if r["kind"] == "predict"]
        source = f"warm-up file {args.warmup}"
        if not batches:
            raise ToolError(f"{args.warmup}: no predict records for {key!r}")
    else:
        batches = [samples.random_batch(spec, args.batch, args.seed + i, args.free_dim, args.int_high)
                   for i in range(args.num_batches)]
        source = f"random from {a_route}/metadata (seed {args.seed})"
    log(f"sending {len(batches)} request(s) to {a_route} and {b_route}")
    ref_parts, got_parts, a_times, b_times = [], [], [], []
    for batch in batches:
        t = time.perf_counter()
        ref_parts.append(_predict(session, a_route, key, batch, output_aliases))
        a_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        got_parts.append(_predict(session, b_route, key, batch, output_aliases))
        b_times.append(time.perf_counter() - t)
    ref_all = {k: np.concatenate([np.atleast_1d(p[k]) for p in ref_parts]) for k in ref_parts[0]}
    got_all = {k: np.concatenate([np.atleast_1d(p[k]) for p in got_parts]) for k in got_parts[0]}
    outputs = compare_outputs(ref_all, got_all, args.atol, args.rtol, args.min_top1)
    ok = all(o.get("ok") for o in outputs.values())
    entry = {"inputs": source, "batches": len(batches), "outputs": outputs, "ok": ok,
             "a_route": a_route, "b_route": b_route,
             "mean_request_ms": {"a": round(1000 * float(np.mean(a_times)), 3),
                                 "b": round(1000 * float(np.mean(b_times)), 3)}}
    _print_signature(key, entry)
    return {"served": args.served, "a": args.a, "b": args.b, "signatures": {key: entry}, "ok": ok}


def run(args: Any) -> int:
    report = compare_served(args) if args.served else compare_in_process(args)
    report["command"] = "compare"
    write_report(Path(args.report), report)
    if not report["ok"]:
        print("compare: outputs differ beyond tolerance (see the report)")
        return 1
    print("compare: OK")
    return 0
