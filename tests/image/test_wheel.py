"""The operator's wheel as ``pip wheel --no-deps .`` builds it at the repository's root: the
product alone (the test bed is a distribution of its own, under tests/), declaring every
third-party package the product imports."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .dockerfile import REPO

PRODUCT = "maskinporten_operator"
LEFT_BEHIND = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a copy of the repository (setuptools writes into its sources), with
    this virtualenv's setuptools (the pinned one) instead of a downloaded one."""
    source = tmp_path_factory.mktemp("wheel") / "repository"
    shutil.copytree(REPO, source, ignore=LEFT_BEHIND)
    dist = source.parent / "dist"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(
        [*pip_wheel, "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = dist.glob("*.whl")
    return zipfile.ZipFile(built)


def requirement_names(wheel: zipfile.ZipFile) -> set[str]:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    message = Parser().parsestr(wheel.read(metadata).decode())
    return {normalize(Requirement(r).name) for r in message.get_all("Requires-Dist", [])}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules(package: Path) -> set[str]:
    """The top-level modules the package's sources import (absolute imports only)."""
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found


def test_wheel_holds_only_the_operator_package(wheel: zipfile.ZipFile) -> None:
    top_level = {name.partition("/")[0] for name in wheel.namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {PRODUCT}


def test_wheel_declares_every_third_party_package_the_operator_imports(
    wheel: zipfile.ZipFile,
) -> None:
    third_party = imported_top_level_modules(REPO / "operator" / PRODUCT) - {
        *sys.stdlib_module_names,
        PRODUCT,
    }
    distributions = importlib.metadata.packages_distributions()
    imported = {normalize(d) for module in third_party for d in distributions[module]}
    assert imported - requirement_names(wheel) == set()
