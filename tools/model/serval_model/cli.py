"""serval-model: convert, compare, quantize, optimize and warm up models for Serval."""

from __future__ import annotations

import argparse
import os
import sys

from .util import ToolError

OPSET_REASON = ("17: the newest opset tf2onnx 1.16.1 converts every TF op it knows to (its tested maximum is 18, "
                "with fewer handlers); ONNX Runtime 1.23 runs opsets up to 23")


def _add_input_options(p: argparse.ArgumentParser, batch_default: int = 4) -> None:
    g = p.add_argument_group("inputs (default: random from the signature)")
    g.add_argument("--npz", help=".npz whose arrays are named by input alias (tf.Example signatures: by feature)")
    g.add_argument("--warmup", help="a TFRecord warm-up file (PredictionLog records) to replay")
    g.add_argument("--batch", type=int, default=batch_default, help="batch size of random inputs (default %(default)s)")
    g.add_argument("--num-batches", type=int, default=2, help="random batches (default %(default)s)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--free-dim", type=int, default=8, help="size of other unknown dimensions (default %(default)s)")
    g.add_argument("--int-high", type=int, default=100, help="random integers are in [0, this) (token ids)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serval-model", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="TF SavedModel / Keras model / TF Serving base path -> ONNX for Serval",
                       description="Converts every signature of a SavedModel (or of each numeric version of a TF "
                       "Serving base path, zero-padded names written as plain numbers, or a .keras/.h5 model) into "
                       "<out>/<version>/: model.onnx (serving_default), one <signature>.onnx per other signature, "
                       "signatures.json (docs/signature-file.md) and assets.extra/tf_serving_warmup_requests when the "
                       "source has one. tf.Example signatures are cut after ParseExample.")
    p.add_argument("source", help="SavedModel dir, base path with version dirs, or .keras/.h5 file")
    p.add_argument("--out", required=True, help="output base path (Serval's --model_base_path)")
    p.add_argument("--version", help="version directory name for a single SavedModel (default: its own numeric "
                   "name, else 1)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default %(default)s; " + OPSET_REASON + ")")
    p.add_argument("--signatures", help="comma-separated signature keys (default: all)")
    p.add_argument("--tags", default="serve", help="MetaGraph tag set, comma-separated (default %(default)s)")
    p.add_argument("--report", help="report JSON (default <out>/convert-report.json)")

    p = sub.add_parser("compare", help="two models, same inputs: per-output error, top-1 agreement, speed",
                       description="A and B: a SavedModel (TensorFlow in process), an ONNX version dir or .onnx "
                       "(ONNX Runtime in process), or with --served URL two models on a running Serval "
                       "(NAME, NAME:LABEL, NAME:VERSION). Exit status 1 when an output is out of tolerance.")
    p.add_argument("a", help="reference: SavedModel dir, ONNX version dir / .onnx, or served model spec")
    p.add_argument("b", help="candidate: ONNX version dir / .onnx, or served model spec")
    p.add_argument("--served", metavar="URL", help="compare two models on a Serval at URL (REST), e.g. "
                   "http://127.0.0.1:8501")
    p.add_argument("--signature", help="signature key(s), comma-separated (default: all that both have)")
    p.add_argument("--tags", default="serve")
    p.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance (default %(default)s)")
    p.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default %(default)s)")
    p.add_argument("--min-top1", type=float, help="judge classifier outputs ([N, classes] floats) by top-1 "
                   "agreement >= this fraction instead of elementwise tolerance (e.g. 0.99 for INT8)")
    p.add_argument("--runs", type=int, default=20, help="timed runs of each side for the speed figures "
                   "(0 = no timing; default %(default)s)")
    p.add_argument("--split", action="store_true", help="split an --npz into --batch sized requests")
    p.add_argument("--report", default="compare-report.json", help="report JSON (default %(default)s)")
    _add_input_options(p)

    p = sub.add_parser("quantize", help="INT8 (dynamic or static QDQ) into a new version dir, with accuracy guard",
                       description="Quantizes <source>/model.onnx (and every other graph its signatures.json "
                       "lists, each guarded on its own inputs) with onnxruntime.quantization into a new version "
                       "directory (default: next number beside the source), ready to be labelled canary. The "
                       "accuracy guard compares INT8 with FP32 on held-out data and refuses to publish below the "
                       "threshold (exit 3) unless --force. reduce_range follows the CPU: on without VNNI.")
    p.add_argument("source", help="version directory holding model.onnx (FP32)")
    p.add_argument("--mode", choices=["dynamic", "static"], default="static")
    p.add_argument("--calibration", help="static: .npz (by alias), a directory of .npy/.npz samples, or a warm-up "
                   "file")
    p.add_argument("--holdout", help="held-out data for the accuracy guard (same forms as --calibration); default: "
                   "the last fifth of the calibration batches")
    p.add_argument("--out-base", help="base path for the new version (default: the source's parent)")
    p.add_argument("--version", help="new version number (default: next free)")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--reduce-range", choices=["auto", "on", "off"], default="auto",
                   help="7-bit weights; auto = on unless the CPU has VNNI (avx512_vnni / avx_vnni)")
    p.add_argument("--op-types", default="MatMul,Gemm", help="dynamic: op types to quantize (default %(default)s)")
    p.add_argument("--preprocess", action=argparse.BooleanOptionalAction, default=True,
                   help="run ORT's quant_pre_process first (default on)")
    p.add_argument("--batch", type=int, default=32, help="rows per calibration / held-out batch from an .npz")
    p.add_argument("--min-top1", type=float, default=0.99, help="guard: top-1 agreement for classifier outputs")
    p.add_argument("--max-norm-error", type=float, default=0.05,
                   help="guard: other outputs' max error / max |FP32| (default %(default)s)")
    p.add_argument("--force", action="store_true", help="publish even when the accuracy guard fails")
    p.add_argument("--runs", type=int, default=50, help="timed runs for the speed-up (default %(default)s)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="time cap per timed side")
    p.add_argument("--speed-batch", type=int, default=1, help="batch size of the speed measurement")
    p.add_argument("--threads", type=int, default=0, help="ORT intra-op threads for guard and timing (0 = ORT's)")
    p.add_argument("--report", help="also write the report here (it is always written beside the model)")

    p = sub.add_parser("optimize", help="ORT offline graph optimization saved to file; FP16 for GPU providers",
                       description="Writes a new version directory (or --output file) whose graphs ONNX Runtime "
                       "optimized offline (SessionOptions.optimized_model_filepath), optionally converted to FP16.")
    p.add_argument("source", help="version directory or .onnx file")
    p.add_argument("--level", choices=["none", "basic", "extended", "all"], default="extended",
                   help="graph optimization level (default %(default)s; 'all' adds layout changes tied to the CPU)")
    p.add_argument("--provider", choices=sorted(["cpu", "cuda", "tensorrt"]), default="cpu")
    p.add_argument("--fp16", action="store_true", help="convert float32 weights/compute to float16 (GPU)")
    p.add_argument("--keep-io-types", action=argparse.BooleanOptionalAction, default=True,
                   help="FP16: keep float32 inputs/outputs so clients are unchanged (default on)")
    p.add_argument("--out-base", help="base path for the new version (default: the source's parent)")
    p.add_argument("--version", help="new version number (default: next free)")
    p.add_argument("--output", help="output file when the source is a bare .onnx")
    p.add_argument("--report")

    p = sub.add_parser("warmup", help="write assets.extra/tf_serving_warmup_requests for a version",
                       description="Writes a TFRecord of PredictionLog records (PredictRequest for predict "
                       "signatures, Classify/RegressRequest with tf.Examples for tf.Example ones) that Serval "
                       "replays before the version becomes AVAILABLE.")
    p.add_argument("version_dir", help="ONNX version dir (with model.onnx) or SavedModel dir")
    p.add_argument("--signature", default="serving_default")
    p.add_argument("--model-name", default="", help="model_spec.name in the records (Serval ignores it)")
    p.add_argument("--num-records", type=int, default=1)
    p.add_argument("--tags", default="serve")
    p.add_argument("--report", help="default <version_dir>/warmup-report.json")
    _add_input_options(p, batch_default=1)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's start-up banners drown the progress lines
    args = build_parser().parse_args(argv)
    try:
        if args.command == "convert":
            from . import convert as command

            args.opset_reason = OPSET_REASON
        elif args.command == "compare":
            from . import compare as command
        elif args.command == "quantize":
            from . import quantize as command
        elif args.command == "optimize":
            from . import optimize as command
        else:
            from . import warmup as command
        return command.run(args)
    except ToolError as error:
        print(f"serval-model {args.command}: error: {error}", file=sys.stderr)
        return error.code


if __name__ == "__main__":
    sys.exit(main())
