"""warmup: writes <version>/assets.extra/tf_serving_warmup_requests, a TFRecord of PredictionLog records.

predict signatures get PredictLog records (PredictRequest); tf.Example signatures (signatures.json with
parse_example, or a SavedModel classify/regress signature) get ClassifyLog / RegressLog records whose examples
carry the features. Serval replays each record before the version becomes AVAILABLE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import samples
from .util import ToolError, is_saved_model, log, write_report


def run(args: Any) -> int:
    target = Path(args.version_dir)
    if not target.is_dir():
        raise ToolError(f"{target}: not a directory")
    key = args.signature
    features = None
    method = "tensorflow/serving/predict"
    if is_saved_model(target):
        from .savedmodel import read_signatures

        sigs = read_signatures(target, [t for t in args.tags.split(",") if t])
        if key not in sigs:
            raise ToolError(f"{target}: no signature {key!r} (has {sorted(sigs)})")
        method = sigs[key].method_name
        spec = {a: (s.dtype, s.shape) for a, s in sigs[key].inputs.items()}
        if method != "tensorflow/serving/predict" and not args.npz:
            raise ToolError(f"signature {key!r} takes serialized tf.Example; give the features with --npz")
    else:
        from .onnxrun import OnnxSignature

        sig = OnnxSignature(target, key)
        method = sig.method_name
        features = sig.features
        spec = sig.input_spec()
    batches = []
    if args.npz:
        data = samples.load_npz(Path(args.npz))
        batches = samples.split_batch(data, args.batch)[:args.num_records]
        source = f"npz {args.npz}"
    else:
        batches = [samples.random_batch(spec, args.batch, args.seed + i, args.free_dim, args.int_high)
                   for i in range(args.num_records)]
        source = f"random from the signature (seed {args.seed})"
    records = []
    for batch in batches:
        if method == "tensorflow/serving/predict":
            records.append(samples.predict_log(args.model_name, key, batch))
        else:
            if features is None:
                features = {name: {"dtype": samples.np_to_tf_dtype(v.dtype), "kind": "fixed_len"}
                            for name, v in batch.items()}
            examples = samples.examples_from_features(batch, features)
            records.append(samples.example_log(args.model_name, key, method, examples))
    if not records:
        raise ToolError("no records to write")
    if len(records) > 1000:
        raise ToolError("Serval replays at most 1,000 warm-up records; lower --num-records")
    path = target / samples.WARMUP_RELPATH
    log(f"writing {len(records)} record(s) to {path}")
    samples.write_warmup(path, records)
    kinds = sorted({r.WhichOneof("log_type") for r in records})
    report = {"command": "warmup", "file": str(path), "records": len(records), "record_kinds": kinds,
              "signature": key, "method_name": method, "batch_size": args.batch, "inputs": source}
    write_report(Path(args.report) if args.report else target / "warmup-report.json", report)
    print(f"wrote {len(records)} warm-up record(s) ({', '.join(kinds)}) to {path}")
    return 0
