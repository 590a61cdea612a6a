"""The node's images, made on this machine and cached by content.

Each archive in ``~/.cache/maskinporten-operator/images/`` is named after a hash of what it is
made from: the busybox binary (shell and pause images), the debootstrap recipe and debootstrap's
version (the Python base; the Debian package versions it got are listed beside it), the
Dockerfile, the files of the build context and the base archive (the operator image). A second
run rebuilds nothing that did not change. A failing step says which, with its output's tail.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from maskinporten_testbed.binaries import cache_lock, cache_root
from maskinporten_testbed.buildcontext import context_files
from maskinporten_testbed.repository import REPOSITORY

from .archives import (
    BUSYBOX,
    IMAGE_PATH,
    Image,
    sha256_file,
    write_busybox_layer,
    write_docker_archive,
)

PAUSE_IMAGE = "localhost/maskinporten-node/pause:1"
BUSYBOX_IMAGE = "localhost/maskinporten-node/busybox:1"
PYTHON_BASE_IMAGE = "localhost/maskinporten-node/python:3.11-bookworm"
OPERATOR_REPOSITORY = "localhost/maskinporten-operator"
DEBOOTSTRAP = (
    "debootstrap",
    "--variant=minbase",
    "--include=python3,python3-venv,ca-certificates",
    "bookworm",
)
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
TRIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
           "usr/share/locale", "usr/share/info")  # fmt: skip
RECIPE_VERSION = "1"
"""Bumped when how an image is made changes (what the hashes of the inputs cannot see)."""


class ImageBuildFailed(RuntimeError):
    """An image step failed; the message names the step and ends with its output."""


@dataclass(frozen=True)
class OperatorImage:
    archive: Path
    repository: str
    tag: str

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


def images_dir() -> Path:
    directory = cache_root() / "images"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _log(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def _key(*parts: str | bytes) -> str:
    digest = hashlib.sha256(RECIPE_VERSION.encode())
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _cached(stem: str, key: str) -> Iterator[tuple[Path, bool]]:
    """``(archive path, whether it must be built)``, under a lock, timed when built."""
    archive = images_dir() / f"{stem}-{key}.tar"
    with cache_lock(f"image-{stem}"):
        if archive.exists():
            yield archive, False
            return
        started = time.monotonic()
        _log(f"building {archive.name}")
        yield archive, True
        size = archive.stat().st_size / 1e6
        _log(f"built {archive.name} ({size:.0f} MB) in {time.monotonic() - started:.0f} s")
        for outdated in images_dir().glob(f"{stem}-*"):
            if outdated.stem != archive.stem:
                outdated.unlink()


def run_step(step: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run one build step, its output appended to ``log``; raise naming the step on failure."""
    with log.open("a") as output:
        output.write(f"$ {' '.join(command)}\n")
        output.flush()
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise ImageBuildFailed(f"image step '{step}' failed (exit {result.returncode}):\n{tail}")


def shell_and_pause() -> Path:
    """One archive with the busybox shell image and the pause image (the same layer; any
    static binary that sleeps serves as the sandbox's pause process)."""
    with _cached("busybox-pause", _key(BUSYBOX.read_bytes())) as (archive, build):
        if build:
            with tempfile.TemporaryDirectory(dir=images_dir()) as scratch:
                layer = Path(scratch) / "busybox.tar"
                write_busybox_layer(layer)
                write_docker_archive(
                    archive,
                    [
                        Image(BUSYBOX_IMAGE, (layer,), {"Env": [IMAGE_PATH], "Cmd": ["sh"]}),
                        Image(
                            PAUSE_IMAGE,
                            (layer,),
                            {"Env": [IMAGE_PATH], "Entrypoint": ["/bin/sleep", "2147483647"]},
                        ),
                    ],
                )
    return archive


def python_base() -> Path:
    """A Python 3.11 base from Debian bookworm (debootstrap minbase) in which ``/usr/local`` is
    a virtualenv of the system Python, so that it behaves like the official ``python:3.11``
    image where the Dockerfile relies on it: ``python`` and ``/usr/local/bin/python3.11`` exist
    and ``python -m pip`` works (Debian's own pip is externally managed)."""
    debootstrap_version = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Version}", "debootstrap"],
        capture_output=True,
        text=True,
    ).stdout
    key = _key(" ".join(DEBOOTSTRAP), debootstrap_version)
    with _cached("python-base", key) as (archive, build):
        if build:
            with tempfile.TemporaryDirectory(dir=images_dir()) as scratch:
                _make_python_base(archive, Path(scratch))
    return archive


def _make_python_base(archive: Path, scratch: Path) -> None:
    rootfs, log = scratch / "rootfs", archive.with_suffix(".log")
    run_step("debootstrap", [*DEBOOTSTRAP, str(rootfs), DEBIAN_MIRROR], log)
    venv = ["chroot", str(rootfs), "/usr/bin/python3.11", "-m", "venv", "/usr/local"]
    run_step("python3.11 -m venv /usr/local", venv, log)
    versions = subprocess.run(
        ["chroot", str(rootfs), "dpkg-query", "--show"], capture_output=True, text=True
    ).stdout
    archive.with_suffix(".packages").write_text(versions)
    for trimmed in TRIMMED:
        for entry in (rootfs / trimmed).glob("*"):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.name != "lock":
                entry.unlink()
    layer = scratch / "rootfs.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(rootfs, arcname=".", filter=_without_runtime_mounts)
    config: dict[str, object] = {"Env": [IMAGE_PATH, "LANG=C.UTF-8"], "Cmd": ["python3"]}
    write_docker_archive(archive, [Image(PYTHON_BASE_IMAGE, (layer,), config)])


def _without_runtime_mounts(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out what the runtime provides (the contents of /dev, /proc and /sys)."""
    parts = Path(member.name).parts
    if len(parts) > 2 and parts[1] in ("dev", "proc", "sys"):
        return None
    member.mtime = 0
    return member


def operator_image() -> OperatorImage:
    """The repository's Dockerfile built by buildah on the local Python base."""
    base = python_base()
    inputs: list[str | bytes] = [(REPOSITORY / "Dockerfile").read_bytes(), sha256_file(base)]
    for relative in context_files():
        inputs += [relative, (REPOSITORY / relative).read_bytes()]
    key = _key(*inputs)
    image = OperatorImage(images_dir() / f"operator-{key}.tar", OPERATOR_REPOSITORY, key)
    with _cached("operator", key) as (_, build):
        if build:
            _buildah_build(base, image)
    return image


BUILDAH_PRIVATE = """set -e
for dir in etc var; do
  mkdir -p "$PRIVATE/$dir-upper" "$PRIVATE/$dir-work"
  mount -t overlay "buildah-$dir" \
    -o "lowerdir=/$dir,upperdir=$PRIVATE/$dir-upper,workdir=$PRIVATE/$dir-work" "/$dir"
done
exec buildah "$@"
"""
"""buildah 1.28 writes /etc/cni/net.d/cni.lock and /var/lib/containers/cache/… whatever its
--root says: it runs in a mount namespace of its own with overlays on /etc and /var."""


def _buildah_build(base: Path, image: OperatorImage) -> None:
    """Pull the base archive into a throwaway buildah storage, build the Dockerfile with the base
    as its build argument (chroot isolation, no pulls; the machine's CA bundle mounted for pip,
    which may reach PyPI through a TLS-inspecting proxy), push to the archive."""
    log = image.archive.with_suffix(".log")
    log.write_text("")
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix="buildah-") as scratch:
        storage = Path(scratch)
        buildah = [
            *("unshare", "--mount", "--propagation", "private"),
            *("env", f"PRIVATE={storage}/private", "sh", "-c", BUILDAH_PRIVATE, "buildah"),
            *("--root", f"{storage}/root", "--runroot", f"{storage}/run", "--storage-driver=vfs"),
        ]
        env = {**os.environ, "TMPDIR": str(storage)}
        steps = [
            ("buildah pull (the local base)", ["pull", f"docker-archive:{base}"]),
            (
                "buildah bud (the Dockerfile)",
                [
                    *("bud", "--isolation=chroot", "--pull=never", "--layers=false"),
                    f"--build-arg=PYTHON_BASE={PYTHON_BASE_IMAGE}",
                    f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro",
                    *("--tag", image.name, "--file", str(REPOSITORY / "Dockerfile")),
                    str(REPOSITORY),
                ],
            ),
            ("buildah push", ["push", image.name, f"docker-archive:{image.archive}:{image.name}"]),
        ]
        for step, arguments in steps:
            run_step(step, [*buildah, *arguments], log, env)
