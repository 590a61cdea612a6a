"""The node's fixed addresses, names and the host settings it answers or leaves alone.

Inside the node's own network namespace nothing can clash with the machine or with another
node, so the addresses and ports are fixed; what is shared with the machine (the cgroup root,
the state directory) is named per node.
"""

from __future__ import annotations

NODE_NAME = "maskinporten-node"
NODE_IP = "172.31.250.1"
"""On the namespace's loopback; never 127.0.0.1, which pods cannot reach."""
POD_CIDR = "10.244.0.0/24"
POD_GATEWAY = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
APISERVER_PORT = 6443
ETCD_PORT = 2379
UPLINK, UPLINK_PEER = "mp-uplink", "mp-uplink-peer"
"""A veth pair, both ends in the namespace, the peer down: the default route that local
connections to Service IPs need before kube-proxy rewrites them."""
BRIDGE = "mp-cni0"
CNI_BIN = "/usr/lib/cni"

KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
"""Host-wide sysctls the kubelet would set: files holding these values are bind-mounted over
them in the node's mount namespace, so the kubelet finds them set and the machine keeps its own."""
NAMESPACE_SYSCTLS = {"net/ipv4/ip_forward": "1"}
"""Per network namespace: set inside it only."""
WATCHED_SYSCTLS = (
    *KUBELET_SYSCTLS,
    *NAMESPACE_SYSCTLS,
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv4/conf/all/route_localnet",
    "net/netfilter/nf_conntrack_max",
)
"""What teardown checks the machine still has as before."""
