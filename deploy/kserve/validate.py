#!/usr/bin/env python3
"""Validates KServe custom resources against the openAPIV3Schema of KServe's own CRDs (vendored in crds/).

    python deploy/kserve/validate.py [FILE.yaml ...]      (default: the runtime and InferenceService here)

Needs PyYAML and jsonschema (scripts/setup's deployment-tools venv has both). Each document is checked
against the schema of its apiVersion/kind; every violation is printed; the exit status is 1 if any.
The vendored CRDs are gzipped copies of KServe's files; their sha256 (uncompressed) is checked first.
"""
from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
CRDS = {  # kind -> (file, sha256 of the uncompressed upstream file: kserve/kserve v0.20.0, config/crd/full/)
    "ClusterServingRuntime": ("serving.kserve.io_clusterservingruntimes.yaml.gz",
                              "c6f6bbb1b4b11afd1e38bd6d7255a8795b86efa2b7d14946ccff9d23592e6846"),
    "InferenceService": ("serving.kserve.io_inferenceservices.yaml.gz",
                         "57c3bf13f77de94678bf2ae3748056ec071ad2b9e88d6a28f44fb4710758fcff"),
}
# libyaml's parser when PyYAML has it: the InferenceService CRD is 2 MB of YAML
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_FILES = [HERE / "clusterservingruntime.yaml", HERE / "inferenceservice.yaml"]


def load_schemas(kinds: set[str]) -> dict[tuple[str, str], dict]:
    """The schemas of the CRDs for `kinds` (only those are parsed), by (apiVersion, kind)."""
    schemas = {}
    for kind in sorted(kinds & set(CRDS)):
        name, digest = CRDS[kind]
        raw = gzip.decompress((HERE / "crds" / name).read_bytes())
        got = hashlib.sha256(raw).hexdigest()
        if got != digest:
            raise SystemExit(f"{name}: sha256 {got} is not the vendored file's {digest}")
        crd = yaml.load(raw, Loader=Loader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def strict(schema):
    """Kubernetes prunes unknown fields of a structural schema; make them errors here instead (a typo in a
    field name would otherwise pass and be silently dropped by the API server)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def validate(paths: list[Path]) -> list[str]:
    docs = [(path, i, doc) for path in paths for i, doc in enumerate(yaml.load_all(path.read_text(), Loader=Loader))
            if doc is not None]
    schemas = load_schemas({doc.get("kind") for _, _, doc in docs})
    errors = []
    for path, i, doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key not in schemas:
            errors.append(f"{path}[{i}]: no vendored CRD for {key[0]} {key[1]}")
            continue
        schema = strict(schemas[key])
        # metadata is validated by the API server itself, not by the CRD schema
        schema["properties"]["metadata"] = {"type": "object"}
        validator = jsonschema.Draft7Validator(schema)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in err.absolute_path) or "<root>"
            errors.append(f"{path.name}[{i}] {key[1]} {where}: {err.message}")
    return errors


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or DEFAULT_FILES
    errors = validate(paths)
    for e in errors:
        print(e)
    if not errors:
        print(f"ok: {', '.join(p.name for p in paths)} match KServe's CRD schemas")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
