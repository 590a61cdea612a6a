"""The node's configuration files: kubeconfigs, containerd, CNI, kubelet, kube-proxy.

Each setting that is not a default is here because the node does not run without it on these
machines (cgroup v1, no systemd, no CAP_SYS_RESOURCE) or to keep it off the machine's state.
"""

from __future__ import annotations

import json
from pathlib import Path

from .pki import Pki
from .settings import APISERVER_PORT, BRIDGE, CNI_BIN, NODE_IP, NODE_NAME, POD_CIDR, POD_GATEWAY

KUBECONFIG_USERS = ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet")


def kubeconfig(pki: Pki, user: str) -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {NODE_NAME}
  cluster: {{server: "https://{NODE_IP}:{APISERVER_PORT}", certificate-authority: "{pki.ca}"}}
users:
- name: {user}
  user: {{client-certificate: "{pki.cert(user)}", client-key: "{pki.key(user)}"}}
contexts:
- name: {NODE_NAME}
  context: {{cluster: {NODE_NAME}, user: {user}}}
current-context: {NODE_NAME}
"""


def containerd(state: Path, config: Path, sandbox_image: str) -> str:
    return f"""version = 2
root = "{state}/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{state}/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # No CAP_SYS_RESOURCE on these machines: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{config}/cni"
"""


def cni() -> str:
    bridge = {
        "type": "bridge",
        "bridge": BRIDGE,
        "isGateway": True,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": POD_CIDR, "gateway": POD_GATEWAY}]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}}
    return json.dumps(
        {"cniVersion": "0.4.0", "name": NODE_NAME, "plugins": [bridge, portmap]}, indent=1
    )


def kubelet(pki: Pki, cgroup_root: str) -> str:
    """At the kubelet's defaults where users run it (syncFrequency among them: what a pod reads
    of a Secret depends on it), except what these machines need."""
    return f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# v1.36 refuses cgroup v1 unless told; these machines are cgroup v1, without systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup_root}
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
address: {NODE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: {pki.cert("kubelet-serving")}
tlsPrivateKeyFile: {pki.key("kubelet-serving")}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: {pki.ca}}}
authorization: {{mode: AlwaysAllow}}
failSwapOn: false
resolvConf: ""
staticPodPath: ""
# Not the machine's business: keep the kubelet from evicting pods or removing the images.
evictionHard: {{memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%",
  nodefs.inodesFree: "1%"}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
"""


def kube_proxy(config: Path) -> str:
    return f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: {NODE_NAME}
clusterCIDR: {POD_CIDR}
clientConnection: {{kubeconfig: {config}/kube-proxy.kubeconfig}}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# nf_conntrack_max is not writable in a network namespace: leave conntrack settings alone.
conntrack: {{maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
"""


def write_configs(state: Path, pki: Pki, *, cgroup_root: str, sandbox_image: str) -> Path:
    """Every file into ``state/config``; return that directory."""
    config = state / "config"
    (config / "cni").mkdir(parents=True)
    for user in KUBECONFIG_USERS:
        (config / f"{user}.kubeconfig").write_text(kubeconfig(pki, user))
    (config / "containerd.toml").write_text(containerd(state, config, sandbox_image))
    (config / "cni" / "10-bridge.conflist").write_text(cni())
    (config / "kubelet.yaml").write_text(kubelet(pki, cgroup_root))
    (config / "kube-proxy.yaml").write_text(kube_proxy(config))
    return config
