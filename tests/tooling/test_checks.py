"""The checks scripts/test runs before the suites (docs/style.md) must fail on a broken file and name it.

Each test builds a small source tree in a temporary directory, runs the real script on it, and asserts the exit
status and that the message names the offending file; a clean tree must pass. The last tests run the checks on
the repository itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
TIMEOUT_S = 300


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={**os.environ, **(env or {})})


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- check_format ---------------------------------------------------------------------------------------------

def format_tree(tmp_path: Path) -> Path:
    shutil.copy(ROOT / ".clang-format", tmp_path / ".clang-format")
    write(tmp_path, "src/core/good.cc", "int Good(int x) { return x + 1; }\n")
    return tmp_path


def test_format_passes_on_formatted_tree(tmp_path):
    proc = run([SCRIPTS / "check_format", format_tree(tmp_path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_format_fails_on_misformatted_file_and_names_it(tmp_path):
    root = format_tree(tmp_path)
    write(root, "src/api/bad.cc", "int  Bad( int x ){return x+1;}\n")
    proc = run([SCRIPTS / "check_format", root])
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "src/api/bad.cc" in proc.stdout + proc.stderr
    assert "src/core/good.cc" not in proc.stderr  # only the bad file is named in the summary


# --- check_layers ---------------------------------------------------------------------------------------------

LAYER_VIOLATIONS = {
    "src/api/ort_user.cc": "#include <onnxruntime_cxx_api.h>\n",
    "src/api/tf_user.cc": '#include "tensorflow/c/c_api.h"\n',
    "src/server/tf_user.cc": "#include <tensorflow/core/public/session.h>\n",
    "src/engine/json_user.cc": "#include <rapidjson/document.h>\n",
    "src/engine/proto_user.cc": '#include "tensorflow_serving/apis/predict.pb.h"\n',
    "src/engine/pb_user.cc": "#include <google/protobuf/message.h>\n",
    "src/engine/api_user.cc": '#include "api/rest_api.h"\n',
    "src/core/engine_user.cc": '#include "engine/engine.h"\n',
    "src/core/grpc_user.cc": "#include <grpcpp/grpcpp.h>\n",
    "src/core/spdlog_user.h": "#include <spdlog/spdlog.h>\n",
    "src/repository/api_user.cc": '#include "api/model_control.h"\n',
    "src/batching/api_user.cc": '#include "api/json/json_reader.h"\n',
    "src/metrics/api_user.cc": '#include "api/request_metrics.h"\n',
    "src/metrics/batching_user.cc": '#include "batching/batching_session.h"\n',
}


def layer_tree(tmp_path: Path) -> Path:
    """Includes every rule allows: these must not be reported."""
    write(tmp_path, "proto/tensorflow/core/framework/tensor.proto", 'syntax = "proto3";\n')
    write(tmp_path, "src/core/ok.cc", '#include <sys/stat.h>\n#include <vector>\n#include "core/status.h"\n')
    write(tmp_path, "src/core/ok_test.cc", '#include <gtest/gtest.h>\n#include "core/status.h"\n')
    write(tmp_path, "src/engine/ort.cc", '#include <onnxruntime_cxx_api.h>\n#include "core/tensor.h"\n')
    write(tmp_path, "src/engine/tf/tf_client.cc",
          '#include "tensorflow/c/c_api.h"\n#include <google/protobuf/io/coded_stream.h>\n')
    write(tmp_path, "src/tf_worker/worker.cc", "#include <tensorflow/core/public/session.h>\n")
    write(tmp_path, "src/api/tfs.cc", '#include "tensorflow/core/framework/tensor.pb.h"\n#include "engine/engine.h"\n')
    write(tmp_path, "src/metrics/core_user.cc", '#include "core/status.h"\n')
    write(tmp_path, "src/server/all.cc", '#include "api/rest_api.h"\n#include "batching/batching_session.h"\n')
    write(tmp_path, "tools/bench/bench.cc", '#include "engine/engine.h"\n#include <rapidjson/document.h>\n')
    return tmp_path


def test_layers_pass_on_allowed_includes(tmp_path):
    proc = run([SCRIPTS / "check_layers", layer_tree(tmp_path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("rel", sorted(LAYER_VIOLATIONS))
def test_layers_fail_on_forbidden_include_and_name_the_file(tmp_path, rel):
    root = layer_tree(tmp_path)
    write(root, rel, "// a forbidden include\n" + LAYER_VIOLATIONS[rel])
    proc = run([SCRIPTS / "check_layers", root])
    assert proc.returncode != 0, f"{rel} passed:\n{proc.stdout}{proc.stderr}"
    assert f"{rel}:2:" in proc.stdout, proc.stdout  # file and line of the include
    assert len([line for line in proc.stdout.splitlines() if line]) == 1, proc.stdout  # nothing else reported


# --- check_tidy -----------------------------------------------------------------------------------------------

def tidy_tree(tmp_path: Path, sources: dict[str, str]) -> tuple[Path, dict]:
    """A tree with the repo's .clang-tidy, the real script, and a compile database for `sources`."""
    shutil.copy(ROOT / ".clang-tidy", tmp_path / ".clang-tidy")
    shutil.copy(ROOT / ".clang-format", tmp_path / ".clang-format")
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPTS / "check_tidy", tmp_path / "scripts" / "check_tidy")
    entries = []
    for rel, text in sources.items():
        path = write(tmp_path, rel, text)
        entries.append({"directory": str(tmp_path), "file": str(path),
                        "command": f"c++ -std=c++20 -I{tmp_path / 'src'} -c {path} -o /dev/null"})
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "compile_commands.json").write_text(json.dumps(entries, indent=2))
    return tmp_path, {"SERVAL_BUILD_DIR": str(tmp_path / "build")}


CLEAN = "int* Clean() { return nullptr; }\n"
DIRTY = "int* Dirty() {\n  int* p = 0;  // modernize-use-nullptr\n  return p;\n}\n"


def test_tidy_passes_on_clean_file(tmp_path):
    root, env = tidy_tree(tmp_path, {"src/core/clean.cc": CLEAN})
    proc = run([root / "scripts" / "check_tidy", "src/core/clean.cc"], cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tidy_fails_on_finding_and_names_the_file(tmp_path):
    root, env = tidy_tree(tmp_path, {"src/core/clean.cc": CLEAN, "src/core/dirty.cc": DIRTY})
    proc = run([root / "scripts" / "check_tidy", "src/core/clean.cc", "src/core/dirty.cc"], cwd=root, env=env)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "src/core/dirty.cc:2:" in proc.stdout and "modernize-use-nullptr" in proc.stdout, proc.stdout
    assert "clean.cc" not in proc.stdout


def test_tidy_checks_only_files_changed_against_the_base(tmp_path):
    root, env = tidy_tree(tmp_path, {"src/core/clean.cc": CLEAN})
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", root]
    assert run([*git, "init", "-q"]).returncode == 0
    assert run([*git, "add", "-A"]).returncode == 0
    assert run([*git, "commit", "-qm", "clean"]).returncode == 0
    env["SERVAL_TIDY_BASE"] = "HEAD"
    proc = run([root / "scripts" / "check_tidy"], cwd=root, env=env)
    assert proc.returncode == 0 and "nothing to check" in proc.stdout, proc.stdout + proc.stderr
    # a new file with a finding: found through the diff, although nobody named it
    write(root, "src/core/dirty.cc", DIRTY)
    entries = json.loads((root / "build" / "compile_commands.json").read_text())
    entries.append({"directory": str(root), "file": str(root / "src/core/dirty.cc"),
                    "command": f"c++ -std=c++20 -c {root / 'src/core/dirty.cc'} -o /dev/null"})
    (root / "build" / "compile_commands.json").write_text(json.dumps(entries))
    proc = run([root / "scripts" / "check_tidy"], cwd=root, env=env)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "src/core/dirty.cc:2:" in proc.stdout, proc.stdout


# --- the repository itself ------------------------------------------------------------------------------------

def test_repository_is_formatted():
    proc = run([SCRIPTS / "check_format"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_repository_keeps_its_layers():
    proc = run([SCRIPTS / "check_layers"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
