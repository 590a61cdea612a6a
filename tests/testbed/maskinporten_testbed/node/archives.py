"""Image archives written here, in ``docker save`` form (manifest.json, one configuration per
image, one ``<diff-id>/layer.tar`` per layer), which ``ctr images import`` and ``buildah pull
docker-archive:`` read: images without a registry."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

EPOCH = "1970-01-01T00:00:00Z"
IMAGE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = Path("/bin/busybox")


@dataclass(frozen=True)
class Image:
    name: str
    layers: tuple[Path, ...]
    """Uncompressed layer tars, bottom first."""
    config: dict[str, object]
    """The ``config`` part of the image configuration (Env, Cmd, Entrypoint …)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_docker_archive(path: Path, images: list[Image]) -> None:
    """Write ``images`` (sharing layers where they are the same) to ``path`` atomically."""
    manifest, written = [], set()
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        for image in images:
            diff_ids = [sha256_file(layer) for layer in image.layers]
            for layer, diff_id in zip(image.layers, diff_ids, strict=True):
                if diff_id not in written:
                    archive.add(layer, arcname=f"{diff_id}/layer.tar", filter=anonymous)
                    written.add(diff_id)
            configuration = {
                "architecture": "amd64",
                "os": "linux",
                "created": EPOCH,
                "config": image.config,
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
                "history": [{"created": EPOCH, "created_by": "maskinporten_testbed"}]
                * len(diff_ids),
            }
            encoded = json.dumps(configuration, sort_keys=True).encode()
            config_name = hashlib.sha256(encoded).hexdigest() + ".json"
            add_bytes(archive, config_name, encoded)
            layers = [f"{d}/layer.tar" for d in diff_ids]
            manifest.append({"Config": config_name, "RepoTags": [image.name], "Layers": layers})
        add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
    partial.rename(path)


def anonymous(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owned by root, at the epoch: the same input makes the same layer."""
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.mtime = 0
    return member


def add_bytes(archive: tarfile.TarFile, name: str, content: bytes, mode: int = 0o644) -> None:
    member = tarfile.TarInfo(name)
    member.size, member.mode = len(content), mode
    archive.addfile(member, io.BytesIO(content))


def _directory(layer: tarfile.TarFile, name: str, mode: int) -> None:
    member = tarfile.TarInfo(name)
    member.type, member.mode = tarfile.DIRTYPE, mode
    layer.addfile(member)


def write_busybox_layer(path: Path) -> None:
    """busybox-static with a link for each applet, /etc/passwd and /etc/group, /tmp.
    (Its wget crashes: static glibc tries to load NSS modules. nc works.)"""
    applets = subprocess.run(
        [BUSYBOX, "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as layer:
        for directory in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc"):
            _directory(layer, directory, 0o755)
        _directory(layer, "tmp", 0o1777)
        layer.add(BUSYBOX, arcname="bin/busybox", filter=anonymous)
        for applet in applets:
            if applet != "bin/busybox":
                member = tarfile.TarInfo(applet)
                member.type, member.linkname, member.mode = tarfile.SYMTYPE, "/bin/busybox", 0o777
                layer.addfile(member)
        add_bytes(
            layer,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        add_bytes(layer, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
