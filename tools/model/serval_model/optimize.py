"""optimize: ONNX Runtime's offline graph optimization saved to a file, and FP16 conversion for GPU providers.

Offline optimization does at publish time what Serval would otherwise do at every load. Level "extended"/"all"
may fuse into ops specific to the provider it ran with, so optimize for the provider you serve on (--provider).
FP16 halves weights and suits CUDA/TensorRT providers; on CPU FP16 is usually slower, so it is opt-in.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .util import ToolError, log, next_version, write_report

LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


def optimize_graph(model_in: Path, model_out: Path, level: str, provider: str) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
    options.optimized_model_filepath = str(model_out)
    options.log_severity_level = 3
    available = ort.get_available_providers()
    if PROVIDERS[provider] not in available:
        raise ToolError(f"provider {provider} ({PROVIDERS[provider]}) is not available in this onnxruntime "
                        f"(available: {available})")
    ort.InferenceSession(str(model_in), sess_options=options, providers=[PROVIDERS[provider]])
    if not Path(model_out).exists():
        raise ToolError(f"onnxruntime wrote no optimized model to {model_out}")


def to_fp16(model_in: Path, model_out: Path, keep_io_types: bool) -> None:
    import onnx
    # onnxruntime ships onnxconverter-common's float16 converter; that package's own pins clash with protobuf 3.20.3
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(model_in))
    converted = convert_float_to_float16(model, keep_io_types=keep_io_types)
    onnx.save(converted, str(model_out))


def run(args: Any) -> int:
    src = Path(args.source)
    graphs = [src / "model.onnx"] if src.is_dir() else [src]
    if not graphs[0].exists():
        raise ToolError(f"{src}: no model.onnx")
    if args.level == "none" and not args.fp16:
        raise ToolError("nothing to do: give --level and/or --fp16")
    start = time.monotonic()
    if src.is_dir():
        out_base = Path(args.out_base) if args.out_base else src.parent
        version = int(args.version) if args.version else next_version(out_base)
        out_dir = out_base / str(version)
        if out_dir.exists():
            raise ToolError(f"{out_dir} exists already")
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_base))
        for item in src.iterdir():
            if item.name.endswith("-report.json"):
                continue
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
        graphs = sorted(staging.glob("*.onnx"))  # every signature's graph
        target = staging
    else:
        if not args.output:
            raise ToolError("optimizing a bare .onnx file needs --output FILE")
        out_dir = Path(args.output)
        staging = None
        target = out_dir.parent
        shutil.copy2(src, out_dir)
        graphs = [out_dir]
    steps = []
    try:
        for graph in graphs:
            current = graph
            if args.fp16:
                log(f"FP16 conversion of {graph.name} (keep_io_types={args.keep_io_types})")
                to_fp16(current, current.with_suffix(".fp16.tmp"), args.keep_io_types)
                current.with_suffix(".fp16.tmp").replace(graph)
            if args.level != "none":
                log(f"offline optimization of {graph.name}: level {args.level}, provider {args.provider}")
                tmp = graph.with_suffix(".opt.tmp")
                optimize_graph(graph, tmp, args.level, args.provider)
                tmp.replace(graph)
            steps.append({"graph": graph.name, "bytes": graph.stat().st_size})
        report = {"command": "optimize", "source": str(src), "out": str(out_dir), "level": args.level,
                  "provider": args.provider, "fp16": args.fp16, "keep_io_types": args.keep_io_types,
                  "graphs": steps, "seconds": round(time.monotonic() - start, 2)}
        write_report(target / "optimize-report.json" if staging else Path(str(out_dir) + ".optimize-report.json"),
                     report)
        if staging:
            staging.chmod(0o755)
            staging.rename(out_dir)
    except BaseException:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if args.report:
        write_report(Path(args.report), report)
    print(f"optimized -> {out_dir}")
    return 0
