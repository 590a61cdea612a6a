"""The image's installation performed here: the Dockerfile's build-stage RUN instructions (they
run hack/install-image) into a temporary virtualenv, from a copy of the build context as
.dockerignore leaves it, and the image's default command run from it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from .dockerfile import REPO, copied_from_build, copy_build_context, stages


@dataclass(frozen=True)
class Installed:
    """The virtualenv the image takes from its build stage, installed under ``prefix`` instead
    of the image's path ``image_path``."""

    prefix: Path
    image_path: str

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """The image's run-time environment (its final stage's ENV), nothing from this one."""
        image = {k: v for k, v in stages()[-1].env().items() if k != "PATH"}
        return {"PATH": f"{self.prefix / 'bin'}:/usr/bin:/bin", **image, **extra}

    def image_command(self) -> list[str]:
        """What the image runs by default (ENTRYPOINT and CMD), pointed at this installation."""
        final = stages()[-1]
        return [
            str(self.prefix) + word.removeprefix(self.image_path)
            if word == self.image_path or word.startswith(self.image_path + "/")
            else word
            for word in final.exec_form("ENTRYPOINT") + final.exec_form("CMD")
        ]

    def run(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            env=self.env(**extra_env),
            cwd=self.prefix,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The build stage's RUN instructions as the Dockerfile writes them, run in a copy of the
    build context, with the path of what the image takes from the build stage replaced by a
    temporary directory."""
    context = tmp_path_factory.mktemp("context")
    copy_build_context(context)
    prefix = tmp_path_factory.mktemp("image") / "maskinporten-operator"
    ((built_at, _),) = copied_from_build()
    for instruction in stages()[0].all("RUN"):
        words = [str(prefix) if word == built_at else word for word in instruction.words()]
        result = subprocess.run(
            ["sh", "-c", shlex.join(words)],
            cwd=context,
            env={**os.environ, "PYTHON": sys.executable, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return Installed(prefix, built_at)


def pinned_runtime_requirements() -> dict[str, str]:
    text = (REPO / "requirements" / "runtime.txt").read_text()
    return {
        normalize(name): version
        for name, version in re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, re.MULTILINE)
    }


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_installed_operator_command_runs(installed: Installed) -> None:
    result = installed.run("maskinporten-operator", "--help")
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout


def test_every_operator_module_imports_in_the_installation(installed: Installed) -> None:
    """Nothing the operator imports is missing from the pinned runtime set."""
    script = (
        "import importlib, pkgutil, maskinporten_operator as p\n"
        "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
    )
    result = installed.run(str(installed.python), "-c", script)
    assert result.returncode == 0, result.stderr


def test_installation_holds_exactly_the_pinned_runtime_set_and_the_operator(
    installed: Installed,
) -> None:
    script = (
        "import importlib.metadata as m\n"
        "for d in m.distributions(): print(d.metadata['Name'], d.version)\n"
    )
    result = installed.run(str(installed.python), "-c", script)
    assert result.returncode == 0, result.stderr
    found = {normalize(n): v for n, v in (line.split() for line in result.stdout.splitlines())}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert found == {**pinned_runtime_requirements(), project["name"]: project["version"]}


def test_installation_has_no_pip_or_build_tools(installed: Installed) -> None:
    for tool in ("pip", "setuptools", "wheel"):
        result = installed.run(str(installed.python), "-c", f"import {tool}")
        assert result.returncode != 0, f"{tool} is importable in the image's virtualenv"
    assert not list((installed.prefix / "bin").glob("pip*"))


def test_installation_leaves_out_the_test_bed(installed: Installed) -> None:
    result = installed.run(str(installed.python), "-c", "import maskinporten_testbed")
    assert "ModuleNotFoundError" in result.stderr


def test_image_command_runs_the_operator_which_refuses_bad_settings_before_reaching_a_cluster(
    installed: Installed,
) -> None:
    result = installed.run(*installed.image_command(), MASKINPORTEN_OPERATOR_ENVIRONMENT="staging")
    assert result.returncode == 2
    assert "MASKINPORTEN_OPERATOR_ENVIRONMENT" in result.stderr


def test_running_the_operator_writes_nothing_into_its_installation(installed: Installed) -> None:
    """The image's root filesystem is read-only: no bytecode or other files appear."""

    def snapshot() -> dict[str, float]:
        return {str(p): p.stat().st_mtime for p in installed.prefix.rglob("*")}

    before = snapshot()
    installed.run("maskinporten-operator", "--help")
    installed.run(str(installed.python), "-c", "import maskinporten_operator.runtime.handlers")
    installed.run("maskinporten-operator", "run", MASKINPORTEN_OPERATOR_LOG_FORMAT="xml")
    assert snapshot() == before
