"""The one-node cluster: bring-up in order, teardown by PID whatever happens."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from maskinporten_testbed import binaries

from . import components
from .configs import write_configs
from .images import PAUSE_IMAGE
from .namespaces import Namespaces, set_up_mounts, set_up_network, start_holder
from .pki import make_pki
from .prerequisites import check_prerequisites
from .processes import ProcessTable
from .teardown import host_snapshot, sweep_killed_node, teardown


def _log(message: str) -> None:
    print(f"[node] {message}", file=sys.stderr, flush=True)


def logs_dir() -> Path:
    """The last node's logs: kept after teardown (a failure's evidence), replaced by the next."""
    return binaries.cache_root() / "node-logs"


def running_node_record() -> Path:
    """Where the running node says what to sweep should its test bed be SIGKILLed
    (:func:`~.teardown.sweep_killed_node`); removed by its teardown."""
    return binaries.cache_root() / "locks" / "node-running.json"


@contextlib.contextmanager
def one_node_at_a_time() -> Iterator[None]:
    """Held while a node runs: a second one waits for the first to stop. Two nodes would each
    see the other's changes to the machine in their teardown check, and do not fit in two
    cores. The kernel drops the lock with its holder, also when that is SIGKILLed; what such a
    node left running is swept once the lock is taken."""
    path = binaries.cache_root() / "locks" / "node-running.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log(f"another one-node cluster runs on this machine ({path}): waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        if swept := sweep_killed_node(running_node_record()):
            _log("stopped what a killed node left behind: " + ", ".join(swept))
        yield


class Node:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet and
    kube-proxy in a network and a mount namespace of their own, ``archives`` imported.

    Reached only from inside: :meth:`command` wraps a command to run there (kubectl and helm on
    the PATH, KUBECONFIG set), :meth:`network_entered` puts the calling thread's new sockets
    there (servers that pods must reach listen on ``NODE_IP``). A context manager: a failing
    start, a signal (raised as an exception by ``stopped_by_signals``) and the exit all tear it
    down completely, checked.
    """

    def __init__(self, archives: list[Path]) -> None:
        self.archives = archives
        self.timings: dict[str, float] = {}
        self._namespaces: Namespaces | None = None

    def __enter__(self) -> Node:
        check_prerequisites()
        self._running = contextlib.ExitStack()
        self._running.enter_context(one_node_at_a_time())
        shutil.rmtree(logs_dir(), ignore_errors=True)
        logs_dir().mkdir(parents=True)
        self.state = Path(tempfile.mkdtemp(prefix="maskinporten-node-"))
        self.cgroup_root = self.state.name
        self.table = ProcessTable(logs_dir())
        self._host_before = host_snapshot()
        try:
            self._bring_up()
        except BaseException:
            self._tear_down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._tear_down()

    @contextlib.contextmanager
    def _timed(self, what: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[what] = round(time.monotonic() - started, 1)

    def _bring_up(self) -> None:
        started = time.monotonic()
        with self._timed("namespaces, mounts, network"):
            self._namespaces = start_holder(self.table)
            self._record_for_a_sweep(self._namespaces)
            set_up_mounts(self._namespaces, self.state)
            set_up_network(self._namespaces)
        with self._timed("certificates and configuration"):
            pki = make_pki(self.state / "pki")
            config = write_configs(
                self.state, pki, cgroup_root=self.cgroup_root, sandbox_image=PAUSE_IMAGE
            )
        parts = components.Parts(self.table, self._namespaces, self.state, pki, config)
        self.kubeconfig = Path(parts.kubeconfig("admin"))
        with self._timed("etcd, kube-apiserver ready"):
            components.start_etcd(parts)
            components.start_apiserver(parts)
        components.start_controller_manager(parts)
        components.start_scheduler(parts)
        with self._timed("containerd ready, images imported"):
            components.start_containerd(parts)
            components.import_images(parts, self.archives)
        with self._timed("kubelet, kube-proxy, node Ready"):
            components.create_cgroup_root(self.cgroup_root)
            components.start_kubelet(parts)
            components.start_kube_proxy(parts)
            components.wait_for_node(parts)
        self.timings["bring-up"] = round(time.monotonic() - started, 1)
        _log(f"up in {self.timings['bring-up']:.0f} s, state in {self.state}: {self.timings}")

    def _record_for_a_sweep(self, namespaces: Namespaces) -> None:
        record = {"namespaces": namespaces.ids, "cgroup_root": self.cgroup_root}
        running_node_record().write_text(json.dumps({**record, "state": str(self.state)}))

    def _tear_down(self) -> None:
        with self._running:
            teardown(
                self.table,
                self._namespaces,
                state=self.state,
                cgroup_root=self.cgroup_root,
                host_before=self._host_before,
            )
            running_node_record().unlink(missing_ok=True)

    @property
    def namespaces(self) -> Namespaces:
        if self._namespaces is None:
            raise RuntimeError("the node is not up")
        return self._namespaces

    def environment(self) -> dict[str, str]:
        """KUBECONFIG, and kubectl, helm and the node's binaries first on the PATH."""
        path = [str(t.directory) for t in binaries.NODE_TOOL_SETS]
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")]),
            "CONTAINERD_NAMESPACE": "k8s.io",
        }

    def command(self, command: list[str]) -> list[str]:
        """``command`` run inside the node's namespaces, in the current directory."""
        return self.namespaces.command(command, workdir=Path.cwd())

    def run(self, *command: str, stdin: str | None = None, check: bool = True) -> str:
        """Run ``command`` inside with :meth:`environment`; its output (raise on failure, with
        its error output, when ``check``)."""
        result = subprocess.run(
            self.command(list(command)),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environment(),
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return self.run("kubectl", *args, stdin=stdin)

    def helm(self, *args: str, stdin: str | None = None) -> str:
        return self.run("helm", *args, stdin=stdin)

    def network_entered(self) -> contextlib.AbstractContextManager[None]:
        return self.namespaces.network_entered()

    def tag_image(self, source: str, target: str) -> None:
        """A second name for an imported image (a new tag without a rebuild)."""
        self.run("ctr", "--namespace=k8s.io", "images", "tag", "--force", source, target)
