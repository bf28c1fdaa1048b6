"""deploy/Dockerfile's shape, checked without building (the builds run in test_image.py, marked `deploy`)."""

from __future__ import annotations

import re

from conftest import DEPLOY, REPO

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def stages() -> list[tuple[str, str]]:
    """(base, name) of every FROM line, in order."""
    return [(m[1], m[2] or "") for m in re.finditer(r"^FROM (\S+)(?: AS (\S+))?$", DOCKERFILE, re.M)]


def test_default_target_is_the_onnx_image_and_tf_variant_extends_it():
    names = [name for _, name in stages()]
    assert names[:-1] == ["build", "tf", "build-tf", "runtime", "runtime-tf"], stages()
    assert stages()[-1] == ("runtime", "")  # `docker build` without --target: the small image
    assert ("runtime", "runtime-tf") in stages()


def test_tensorflow_is_the_version_the_suite_pins():
    pinned = re.search(r"^tensorflow==(\S+)$", (REPO / "scripts" / "requirements.txt").read_text(), re.M)[1]
    assert re.search(r"^ARG TENSORFLOW_VERSION=(\S+)$", DOCKERFILE, re.M)[1] == pinned


def test_tf_variant_copies_only_the_worker_and_two_libraries():
    tf_stage = DOCKERFILE.split("AS runtime-tf", 1)[1].split("\nFROM ", 1)[0]
    copies = re.findall(r"^COPY --from=build-tf (.+)$", tf_stage, re.M)
    assert copies == ["/out-tf/libtensorflow_cc.so.2 /out-tf/libtensorflow_framework.so.2 /usr/local/lib/",
                      "/out-tf/serval-tf-worker /usr/local/bin/serval-tf-worker"], copies
    assert "USER 10001:10001" in tf_stage
