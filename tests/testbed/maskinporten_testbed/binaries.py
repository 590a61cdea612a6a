"""Build the local control plane's binaries from the Go module proxy, cached by version.

kube-apiserver, kube-controller-manager and kubectl come from ``k8s.io/kubernetes`` with every
``k8s.io/*`` staging module replaced by its published ``v0.x.y`` release; so do the one-node
cluster's kubelet, kube-scheduler and kube-proxy (``--node``: a tool set of their own, built only
for the cluster tests); etcd and helm come from their own modules. Each tool set is built in its
own throwaway Go module (their dependency graphs disagree) into
``~/.cache/maskinporten-operator/bin/<name>-<version>/`` and reused from there.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
HELM_VERSION = "v3.22.0"


def cache_root() -> Path:
    """Where built binaries live; ``MASKINPORTEN_TESTBED_CACHE`` overrides the default."""
    configured = os.environ.get("MASKINPORTEN_TESTBED_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "maskinporten-operator"


@dataclass(frozen=True)
class ToolSet:
    """Binaries built together from one Go module at one version."""

    name: str
    version: str
    module: str
    packages: dict[str, str]
    ldflags: tuple[str, ...] = ()
    replaces: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return cache_root() / "bin" / f"{self.name}-{self.version}"

    def path(self, binary: str) -> Path:
        return self.directory / binary

    def is_built(self) -> bool:
        return all(os.access(self.path(binary), os.X_OK) for binary in self.packages)


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    return tuple(
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in values.items()
    )


def _staging_replaces(kubernetes_version: str) -> dict[str, str]:
    """Map each staging module of k8s.io/kubernetes to its published v0.x.y release."""
    go_mod = _download_go_mod(f"k8s.io/kubernetes@{kubernetes_version}")
    staging_version = "v0." + kubernetes_version.removeprefix("v1.")
    modules = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", go_mod, re.MULTILINE)
    return {module: f"{module} {staging_version}" for module in modules}


def _download_go_mod(module_at_version: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["go", "mod", "download", "-json", module_at_version],
            capture_output=True,
            text=True,
            cwd=scratch,
            env={**os.environ, "GOWORK": "off"},
        )
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Error" in info:
        raise RuntimeError(
            f"go mod download {module_at_version} failed: {info.get('Error') or result.stderr}"
        )
    return Path(info["GoMod"]).read_text()


def _go_env() -> dict[str, str]:
    return {**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-mod=mod"}


KUBERNETES = ToolSet(
    name="kubernetes",
    version=KUBERNETES_VERSION,
    module="k8s.io/kubernetes",
    packages={
        "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
        "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
        "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    },
    ldflags=_kubernetes_ldflags(KUBERNETES_VERSION),
)
ETCD = ToolSet(
    name="etcd",
    version=ETCD_VERSION,
    module="go.etcd.io/etcd/server/v3",
    packages={"etcd": "go.etcd.io/etcd/server/v3"},
    ldflags=("-X go.etcd.io/etcd/api/v3/version.GitSHA=" + ETCD_VERSION,),
)
HELM = ToolSet(
    name="helm",
    version=HELM_VERSION,
    module="helm.sh/helm/v3",
    packages={"helm": "helm.sh/helm/v3/cmd/helm"},
    ldflags=(
        f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
        "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
    ),
)
KUBERNETES_NODE = ToolSet(
    name="kubernetes-node",
    version=KUBERNETES_VERSION,
    module="k8s.io/kubernetes",
    packages={
        "kubelet": "k8s.io/kubernetes/cmd/kubelet",
        "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
        "kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy",
    },
    ldflags=_kubernetes_ldflags(KUBERNETES_VERSION),
)
ALL_TOOL_SETS = (ETCD, KUBERNETES, HELM)
NODE_TOOL_SETS = (*ALL_TOOL_SETS, KUBERNETES_NODE)


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Exclusive, across processes, while ``name`` is built or fetched into the cache."""
    lock_dir = cache_root() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _log(message: str) -> None:
    print(f"[binaries] {message}", file=sys.stderr, flush=True)


def build(tool_set: ToolSet) -> Path:
    """Build ``tool_set`` unless its cache directory already holds every binary."""
    if tool_set.is_built():
        return tool_set.directory
    if shutil.which("go") is None:
        raise RuntimeError(
            f"Go is needed to build {tool_set.name} {tool_set.version} "
            "(install Go >= 1.26, or point MASKINPORTEN_TEST_KUBECONFIG at an existing cluster)"
        )
    with cache_lock(tool_set.name):
        if tool_set.is_built():
            return tool_set.directory
        started = time.monotonic()
        _log(
            f"building {', '.join(tool_set.packages)} {tool_set.version} (takes minutes when cold)"
        )
        work = cache_root() / "build" / f"{tool_set.name}-{tool_set.version}"
        work.mkdir(parents=True, exist_ok=True)
        kubernetes = tool_set.module == KUBERNETES.module
        replaces = _staging_replaces(tool_set.version) if kubernetes else {}
        lines = [
            "module maskinporten-operator/binaries",
            "",
            "go 1.26.0",
            "",
            f"require {tool_set.module} {tool_set.version}",
            "",
            *(f"replace {module} => {target}" for module, target in sorted(replaces.items())),
        ]
        (work / "go.mod").write_text("\n".join(lines) + "\n")
        staging = Path(tempfile.mkdtemp(prefix=f"{tool_set.name}-", dir=work))
        ldflags = " ".join(("-s", "-w", *tool_set.ldflags))
        for binary, package in tool_set.packages.items():
            command = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(staging / binary)]
            _log("$ " + " ".join([*command, package]))
            subprocess.run([*command, package], check=True, cwd=work, env=_go_env())
        tool_set.directory.parent.mkdir(parents=True, exist_ok=True)
        if tool_set.directory.exists():
            shutil.rmtree(tool_set.directory)
        staging.rename(tool_set.directory)
        _log(f"built {tool_set.name} {tool_set.version} in {time.monotonic() - started:.0f} s")
    return tool_set.directory


def ensure_all(tool_sets: tuple[ToolSet, ...] = ALL_TOOL_SETS) -> dict[str, Path]:
    """Build every tool set that is missing; return each binary's path by name."""
    paths: dict[str, Path] = {}
    for tool_set in tool_sets:
        build(tool_set)
        paths.update({binary: tool_set.path(binary) for binary in tool_set.packages})
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--print-dir", action="store_true", help="print each binary's path")
    parser.add_argument(
        "--node", action="store_true", help="also the one-node cluster's kubelet, scheduler, proxy"
    )
    args = parser.parse_args()
    for binary, path in ensure_all(NODE_TOOL_SETS if args.node else ALL_TOOL_SETS).items():
        if args.print_dir:
            print(f"{binary}\t{path}")


if __name__ == "__main__":
    main()
