"""quantize: ONNX Runtime INT8 quantization into a new version directory, guarded by an accuracy check.

dynamic: weights of MatMul/Gemm to int8, activations quantized at run time (Transformers; no calibration data).
static:  QDQ with activation ranges calibrated on sample data, per-channel weights (CNNs).
The new version is published only when its outputs on held-out data agree with FP32 (top-1 agreement for
classifier outputs, normalized max error otherwise) unless --force; the measured in-process speed-up and the
instruction set that ran go into quantize-report.json beside the model.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import samples
from .compare import compare_outputs, is_classifier_output
from .onnxrun import OnnxSignature
from .util import ToolError, cpu_isa, load_signature_file, log, next_version, write_report

REFUSED_EXIT = 3


def _alias_batches(source: str, sig: OnnxSignature, batch: int) -> list[dict[str, np.ndarray]]:
    """Calibration or held-out batches by alias from a .npz, a directory of .npy/.npz, or a warm-up file."""
    path = Path(source)
    if path.is_dir():
        items = samples.load_npy_dir(path)
        spec = sig.input_spec()
        if any("" in s for s in items):
            if len(spec) != 1:
                raise ToolError(f"{path}: bare .npy samples need a model with one input (it has {sorted(spec)})")
            only = next(iter(spec))
            items = [{only if k == "" else k: v for k, v in s.items()} for s in items]
        # a sample without the batch dimension gets one
        fixed = []
        for s in items:
            fixed.append({k: v[None, ...] if len(spec.get(k, ("", None))[1] or []) == v.ndim + 1 else v
                          for k, v in s.items()})
        return fixed
    if path.suffix == ".npz":
        return samples.split_batch(samples.load_npz(path), batch)
    records = samples.warmup_batches(path, sig.key)
    batches = [r["inputs"] for r in records if r["kind"] == "predict"]
    if not batches:
        raise ToolError(f"{path}: no predict records for signature {sig.key!r} to calibrate with")
    return batches


class _Reader:
    """onnxruntime.quantization CalibrationDataReader over feeds by ONNX input name."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)

    def rewind(self):  # older/newer ORT versions may call it
        pass


def _signature_batches(sig: OnnxSignature, given: list[dict[str, Any]], count: int, batch: int,
                       seed: int) -> tuple[list[dict[str, Any]], str]:
    """Batches for a signature other than serving_default: the given data when it feeds this signature's inputs
    (same aliases), else random ones from the signature (random tf.Examples parsed with the feature spec for a
    tf.Example signature)."""
    if sig.features is None and given and set(given[0]) == set(sig.input_spec()):
        return given, "the data given for serving_default (same inputs)"
    if sig.features is not None:
        out = [samples.features_from_examples(list(samples.random_examples(sig.features, batch, seed + i)),
                                              sig.features) for i in range(count)]
        return out, f"random tf.Examples from the feature spec (seed {seed})"
    spec = sig.input_spec()
    return ([samples.random_batch(spec, batch, seed + i) for i in range(count)],
            f"random from the signature (seed {seed})")


def _quantize_file(model_in: Path, out_model: Path, args: Any, reduce_range: bool,
                   feeds: list[dict[str, np.ndarray]]) -> None:
    """One graph, dynamic or static QDQ (calibrated on `feeds`, by ONNX input name)."""
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    if args.mode == "dynamic":
        quantize_dynamic(str(model_in), str(out_model), op_types_to_quantize=[o for o in args.op_types.split(",") if o],
                         per_channel=args.per_channel, reduce_range=reduce_range, weight_type=QuantType.QInt8)
    else:
        quantize_static(str(model_in), str(out_model), _Reader(feeds), quant_format=QuantFormat.QDQ,
                        per_channel=args.per_channel, reduce_range=reduce_range,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)


def _preprocessed(model_in: Path, staging: Path, args: Any) -> Path:
    """quant_pre_process's output (shape inference, graph optimization) when --preprocess, else the input."""
    if not args.preprocess:
        return model_in
    pre = staging / f".pre.{model_in.name}"
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        log(f"pre-processing {model_in.name} (shape inference, graph optimization) for quantization")
        quant_pre_process(str(model_in), str(pre), skip_symbolic_shape=True)
        return pre
    except Exception as error:  # optional step: the plain graph quantizes too
        log(f"pre-processing skipped: {error}")
        return model_in


def _quantize_other_signatures(src: Path, staging: Path, args: Any, reduce_range: bool,
                               calibration: list[dict[str, Any]], holdout: list[dict[str, Any]]) -> dict[str, Any]:
    """Every graph signatures.json lists besides model.onnx, quantized like it and guarded on its own data.
    Returns the report's entry per signature (one graph may serve several: it is quantized once)."""
    doc = load_signature_file(src)
    if doc is None:
        return {}
    done: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {}
    for n, (key, entry) in enumerate(sorted(doc["signatures"].items())):
        graph = entry["graph"]
        if graph == "model.onnx":
            continue
        fp32 = OnnxSignature(src, key, threads=args.threads)
        if graph not in done:
            calib, calib_source = _signature_batches(fp32, calibration, 4, args.batch, 2000 + 100 * n)
            log(f"quantizing signature {key!r} ({graph}, {args.mode}; calibration: {calib_source})")
            try:
                model_in = _preprocessed(src / graph, staging, args)
                _quantize_file(model_in, staging / graph, args, reduce_range, [fp32.feeds(b) for b in calib])
                if model_in != src / graph:
                    model_in.unlink(missing_ok=True)
            except ToolError:
                raise
            except Exception as error:
                raise ToolError(f"quantize: signature {key!r} ({graph}): {type(error).__name__}: {error}") from None
            done[graph] = {"calibration": calib_source if args.mode == "static" else None}
        int8 = OnnxSignature(staging, key, threads=args.threads)
        held, held_source = _signature_batches(fp32, holdout, 2, args.batch, 3000 + 100 * n)
        verdict = guard(fp32, int8, held, args.min_top1, args.max_norm_error)
        report[key] = {"graph": graph, **done[graph], "holdout": held_source, "accuracy_guard": verdict}
    return report


def guard(fp32: OnnxSignature, int8: OnnxSignature, holdout: list[dict[str, np.ndarray]], min_top1: float,
          max_norm_error: float) -> dict[str, Any]:
    ref_parts = [fp32.run(b) for b in holdout]
    got_parts = [int8.run(b) for b in holdout]
    ref = {k: np.concatenate([p[k] for p in ref_parts]) for k in ref_parts[0]}
    got = {k: np.concatenate([p[k] for p in got_parts]) for k in got_parts[0]}
    outputs = compare_outputs(ref, got, atol=0.0, rtol=0.0, min_top1=min_top1)
    failures = []
    for alias, stats in outputs.items():
        if "error" in stats:
            failures.append(f"output {alias!r}: {stats['error']}")
            continue
        if stats.get("kind") == "strings":
            stats["ok"] = stats["equal_fraction"] >= min_top1
            if not stats["ok"]:
                failures.append(f"output {alias!r}: only {stats['equal_fraction']:.1%} equal strings")
            continue
        if "top1_agreement" in stats and is_classifier_output(ref[alias]):
            stats["ok"] = stats["top1_agreement"] >= min_top1
            if not stats["ok"]:
                failures.append(f"output {alias!r}: top-1 agreement with FP32 is {stats['top1_agreement']:.1%} "
                                f"on {stats['examples']} held-out examples (threshold {min_top1:.1%})")
            continue
        norm = stats["max_abs_error"] / max(stats["max_abs_reference"], 1e-12)
        stats["normalized_max_error"] = norm
        stats["ok"] = norm <= max_norm_error
        stats["judged_by"] = f"max_abs_error / max|fp32| <= {max_norm_error}"
        if not stats["ok"]:
            failures.append(f"output {alias!r}: max error is {norm:.1%} of the FP32 output's range "
                            f"(threshold {max_norm_error:.1%})")
    return {"outputs": outputs, "failures": failures, "ok": not failures,
            "held_out_examples": int(len(next(iter(ref.values()))))}


def run(args: Any) -> int:
    src = Path(args.source)
    if not (src / "model.onnx").exists():
        raise ToolError(f"{src}: not a version directory with model.onnx")
    out_base = Path(args.out_base) if args.out_base else src.parent
    version = int(args.version) if args.version else max(next_version(out_base), int(src.name) + 1
                                                          if src.name.isdigit() else 1)
    out_dir = out_base / str(version)
    if out_dir.exists():
        raise ToolError(f"{out_dir} exists already; choose another --version")
    isa = cpu_isa()
    reduce_range = isa["reduce_range"] if args.reduce_range == "auto" else args.reduce_range == "on"
    fp32 = OnnxSignature(src, "serving_default", threads=args.threads)
    if fp32.features is not None:
        raise ToolError("quantize works on a predict serving_default graph (this one takes tf.Example features)")

    if args.mode == "static" and not args.calibration:
        raise ToolError("--mode static needs --calibration (.npz, directory of .npy, or a warm-up file)")
    calibration = _alias_batches(args.calibration, fp32, args.batch) if args.calibration else []
    if args.holdout:
        holdout = _alias_batches(args.holdout, fp32, args.batch)
    elif len(calibration) >= 2:
        cut = max(1, len(calibration) // 5)
        holdout, calibration = calibration[-cut:], calibration[:-cut] if args.mode == "static" else calibration
        log(f"no --holdout: holding out the last {cut} calibration batch(es) for the accuracy guard")
    else:
        spec = fp32.input_spec()
        holdout = [samples.random_batch(spec, args.batch, 1000 + i) for i in range(4)]
        log("no --holdout and no calibration data: the accuracy guard runs on random inputs")

    doc = load_signature_file(src)
    graphs = {e["graph"] for e in doc["signatures"].values()} if doc else set()
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_base))
    try:
        for item in src.iterdir():
            if item.name in ("model.onnx", "quantize-report.json", "optimize-report.json") or item.name in graphs:
                continue  # every graph is written quantized below; signatures.json and assets are copied
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
        out_model = staging / "model.onnx"
        details: dict[str, Any] = {"mode": args.mode, "per_channel": args.per_channel,
                                   "reduce_range": reduce_range, "weight_type": "int8"}
        feeds = [fp32.feeds(b) for b in calibration]
        if args.mode == "dynamic":
            ops = [o for o in args.op_types.split(",") if o]
            log(f"dynamic INT8 quantization of {ops} (per_channel={args.per_channel}, reduce_range={reduce_range})")
            details["op_types"] = ops
        else:
            log(f"static QDQ INT8 quantization, calibrating on {len(feeds)} batch(es) "
                f"(per_channel={args.per_channel}, reduce_range={reduce_range})")
            details.update(activation_type="uint8", format="QDQ", calibration=str(args.calibration),
                           calibration_batches=len(feeds),
                           calibration_examples=int(sum(len(next(iter(b.values()))) for b in calibration)))
        model_in = _preprocessed(src / "model.onnx", staging, args)
        _quantize_file(model_in, out_model, args, reduce_range, feeds)
        if model_in != src / "model.onnx":
            model_in.unlink(missing_ok=True)
        others = _quantize_other_signatures(src, staging, args, reduce_range, calibration, holdout)
        int8 = OnnxSignature(staging, "serving_default", threads=args.threads)
        log(f"accuracy guard on {len(holdout)} held-out batch(es)")
        verdict = guard(fp32, int8, holdout, args.min_top1, args.max_norm_error)
        for key, entry in others.items():
            verdict["failures"] += [f"signature {key!r}: {f}" for f in entry["accuracy_guard"]["failures"]]
        verdict["ok"] = not verdict["failures"]
        speed_batch = {k: v[:args.speed_batch] for k, v in holdout[0].items()}
        log(f"measuring in-process speed (batch {args.speed_batch}, up to {args.runs} runs each)")
        fp32_ms = fp32.time_ms(speed_batch, args.runs, args.max_seconds)
        int8_ms = int8.time_ms(speed_batch, args.runs, args.max_seconds)
        import onnxruntime

        report = {
            "command": "quantize", "source": str(src), "out": str(out_dir), "version": version,
            "published": False, "forced": bool(args.force), "quantization": details,
            "cpu": isa, "onnxruntime": onnxruntime.__version__,
            "accuracy_guard": {"min_top1": args.min_top1, "max_norm_error": args.max_norm_error,
                               "holdout": str(args.holdout) if args.holdout else "split from calibration",
                               **verdict},
            "speed": {"batch_size": args.speed_batch, "fp32_ms": round(fp32_ms, 4), "int8_ms": round(int8_ms, 4),
                      "speedup": round(fp32_ms / int8_ms, 3) if int8_ms else None,
                      "threads": args.threads or "onnxruntime default",
                      "isa": isa["isa"]},
            "bytes": {"fp32": (src / "model.onnx").stat().st_size, "int8": out_model.stat().st_size},
            # every other signature's graph (signatures.json), quantized the same way and guarded on its own
            "other_signatures": others,
        }
        print(f"accuracy guard: {'passed' if verdict['ok'] else 'FAILED'}")
        for alias, stats in verdict["outputs"].items():
            if "top1_agreement" in stats:
                print(f"  {alias}: top-1 agreement {stats['top1_agreement']:.2%} on {stats['examples']} examples")
            elif "normalized_max_error" in stats:
                print(f"  {alias}: max error {stats['normalized_max_error']:.2%} of FP32 range")
        print(f"speed ({isa['isa']}, batch {args.speed_batch}): fp32 {fp32_ms:.3f} ms, int8 {int8_ms:.3f} ms, "
              f"speed-up x{fp32_ms / int8_ms:.2f}")
        if not verdict["ok"] and not args.force:
            report_path = Path(args.report) if args.report else out_base / f".{out_dir.name}.quantize-refused.json"
            write_report(report_path, report)
            raise ToolError(
                "quantize: refusing to publish " + str(out_dir) + ": the INT8 model fails the accuracy guard: "
                + "; ".join(verdict["failures"])
                + ". The calibration data probably does not represent real inputs; calibrate on more, varied samples"
                + " (or pass --force to publish anyway). Report: " + str(report_path), code=REFUSED_EXIT)
        report["published"] = True
        write_report(staging / "quantize-report.json", report)
        staging.chmod(0o755)
        staging.rename(out_dir)
        if args.report:
            write_report(Path(args.report), report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"published {out_dir} (version {version}); label it, e.g. version_labels {{ key: 'canary' "
          f"value: {version} }}")
    return 0

