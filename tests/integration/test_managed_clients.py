"""Managed clients end to end: the operator as a process on the local control plane, the
Maskinporten stand-in and the self-service stand-in beside it playing Digdir.

A MaskinportenClient without ``clientId`` gets its client, scopes and key registered with no
manual step. The operator watches ``managed-*`` namespaces only, so it never meets the
resources of the other operator tests. Figures (API calls per operation, admin token requests)
are printed for the closing note; run with ``-s`` to see them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from maskinporten_operator.credentials.keys import generate_client_key
from maskinporten_testbed.operatorprocess import TEST_SETTINGS, OperatorProcess, operator_settings
from maskinporten_testbed.selfservice import (
    ADMIN_SCOPES,
    AdminClient,
    SelfServiceThread,
    provision_admin_client,
)
from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread
from maskinporten_testbed.testca import CertificateAuthority
from tests.helpers import decode_jwt

from .helpers import ORG, SCOPE, Cluster, eventually

OTHER_SCOPE = "test:long"
NOT_GRANTED = "test:nobody"
OUTSIDE_POLICY = "elsewhere:read"
BRIEF_SCOPE = "test:brief"
OPERATOR_NAMESPACE = f"managed-operator-{uuid.uuid4().hex[:6]}"
CREDENTIAL_SECRET = "selfservice-admin"
CLUSTER_NAME = f"it-{uuid.uuid4().hex[:6]}"
PROPAGATION_DELAY = 20.0
ROTATION_PROPAGATION_DELAY = 60.0
READY_TIMEOUT = 60.0


class ManagedOperator:
    """The operator process for these tests, restartable."""

    def __init__(self, kubeconfig: Path, log: Path, settings: dict[str, str]) -> None:
        self._kubeconfig, self._log, self._settings = kubeconfig, log, settings
        self.process = OperatorProcess(kubeconfig, log, settings)

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process = OperatorProcess(self._kubeconfig, self._log, self._settings)


@pytest.fixture(scope="module")
def selfservice(standin: StandinThread) -> Iterator[SelfServiceThread]:
    with SelfServiceThread(standin) as server:
        server.grant_scope_access(ORG, SCOPE, OTHER_SCOPE, OUTSIDE_POLICY)
        yield server


@pytest.fixture(scope="module")
def admin(standin: StandinThread, ca: CertificateAuthority) -> AdminClient:
    """Its tokens live an hour, as Maskinporten's admin tokens may: one serves the module."""
    for scope in ADMIN_SCOPES:
        standin.set_lifetime(scope, 3600)
    return provision_admin_client(standin, ca, ORG)


@pytest.fixture(scope="module")
def operator_namespace(core: kubernetes.client.CoreV1Api, admin: AdminClient) -> Iterator[str]:
    """The operator's namespace, holding the admin credential as an administrator puts it."""
    core.create_namespace({"metadata": {"name": OPERATOR_NAMESPACE}})
    core.create_namespaced_secret(
        OPERATOR_NAMESPACE,
        {"metadata": {"name": CREDENTIAL_SECRET}, "stringData": admin_credential_data(admin)},
    )
    yield OPERATOR_NAMESPACE
    core.delete_namespace(OPERATOR_NAMESPACE)


def admin_credential_data(admin: AdminClient, client_id: str | None = None) -> dict[str, str]:
    """The admin credential Secret's data as an administrator puts it (PEM key and chain)."""
    return {
        "clientId": client_id or admin.client_id,
        "tls.key": admin.certificate.private_key_pem().decode(),
        "tls.crt": admin.certificate.chain_pem().decode(),
    }


def managed_settings(
    standin: StandinThread, selfservice: SelfServiceThread, namespaces: str, credentials: str
) -> dict[str, str]:
    return {
        **operator_settings(standin, namespaces),
        **TEST_SETTINGS,
        "MASKINPORTEN_OPERATOR_ALLOWED_ISSUERS": "",
        "MASKINPORTEN_OPERATOR_SELF_SERVICE_URL": selfservice.base_url,
        "MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS": credentials,
        "MASKINPORTEN_OPERATOR_CLUSTER_NAME": CLUSTER_NAME,
        "MASKINPORTEN_OPERATOR_MANAGED_SCOPE_POLICY": "managed-*=test:*",
    }


@pytest.fixture(scope="module")
def managed_operator(
    kubeconfig: Path,
    crd_installed: None,
    standin: StandinThread,
    selfservice: SelfServiceThread,
    operator_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ManagedOperator]:
    log = tmp_path_factory.mktemp("managed-operator") / "operator.log"
    settings = managed_settings(
        standin, selfservice, "managed-t-*", f"{operator_namespace}/{CREDENTIAL_SECRET}"
    )
    running = ManagedOperator(kubeconfig, log, settings)
    yield running
    running.stop()


def new_namespace(core: kubernetes.client.CoreV1Api, prefix: str) -> Iterator[str]:
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def managed(
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    managed_operator: ManagedOperator,
) -> Iterator[Cluster]:
    """A namespace the managed-client operator watches."""
    for namespace in new_namespace(core, "managed-t-"):
        yield Cluster(core, custom, namespace)


def spec(*scopes: str, **fields: Any) -> dict[str, Any]:
    return {"scopes": {"consumes": [{"name": s} for s in scopes or (SCOPE,)]}, **fields}


def description(cluster: Cluster, name: str) -> str:
    return f"maskinporten-operator:{CLUSTER_NAME}/{cluster.namespace}/{name}"


def clients_described(
    selfservice: SelfServiceThread, standin: StandinThread, text: str
) -> list[str]:
    ids = standin.call(lambda s: list(s.registry.clients))
    return [
        client_id
        for client_id in ids
        if (document := selfservice.client_document(client_id)) is not None
        and document["description"] == text
    ]


def scopes_of(selfservice: SelfServiceThread, client_id: str) -> list[str]:
    document = selfservice.client_document(client_id)
    return list(document["scopes"]) if document is not None else []


def calls(selfservice: SelfServiceThread) -> list[str]:
    return [f"{r.method} {r.path.split('/api/v1', 1)[-1]}" for r in selfservice.requests(ORG)]


def wait_ready(cluster: Cluster, name: str, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
    return cluster.wait_condition(name, status="True", reason="TokenIssued", timeout=timeout)


# --- create -------------------------------------------------------------------------------------


def test_create_gives_a_registered_client_and_a_token_with_no_manual_step(
    managed: Cluster, selfservice: SelfServiceThread, standin: StandinThread
) -> None:
    selfservice.clear_requests()

    managed.create_client("weather", spec())
    wait_ready(managed, "weather")

    status = managed.get_client("weather")["status"]
    [client_id] = clients_described(selfservice, standin, description(managed, "weather"))
    data = managed.secret_data("weather-maskinporten")
    assert status["clientId"] == client_id
    assert data["MASKINPORTEN_CLIENT_ID"] == client_id
    assert decode_jwt(data["MASKINPORTEN_ACCESS_TOKEN"]).claims["client_id"] == client_id
    assert managed.condition("weather", "ClientRegistered")["status"] == "True"
    assert status["keys"][0]["state"] == "Active"
    print(f"\nself-service API calls per create: {len(calls(selfservice))}: {calls(selfservice)}")


def test_a_scope_change_updates_the_client(
    managed: Cluster, selfservice: SelfServiceThread
) -> None:
    managed.create_client("scoped", spec())
    wait_ready(managed, "scoped")
    client_id = managed.get_client("scoped")["status"]["clientId"]
    selfservice.clear_requests()

    managed.patch_client("scoped", {"spec": spec(SCOPE, OTHER_SCOPE)})

    eventually(
        lambda: sorted(scopes_of(selfservice, client_id)) == [OTHER_SCOPE, SCOPE],
        what="the client's scopes to follow the spec",
    )
    eventually(
        lambda: (
            managed.get_client("scoped")["status"].get("observedGeneration") == 2
            and managed.condition("scoped")["status"] == "True"
        ),
        what="a token for the new spec",
    )
    made = calls(selfservice)
    print(f"\nself-service API calls per scope change: {len(made)}: {made}")


def test_a_scope_the_organisation_lacks_is_reported_by_name(
    managed: Cluster, selfservice: SelfServiceThread, standin: StandinThread
) -> None:
    managed.create_client("typo", spec(NOT_GRANTED))

    ready = managed.wait_condition("typo", status="False", reason="ScopeNotAccessible")

    assert NOT_GRANTED in ready["message"]
    assert clients_described(selfservice, standin, description(managed, "typo")) == []
    managed.delete_client("typo")  # its retries would reach the API during the next test
    eventually(lambda: not managed.client_exists("typo"), what="the resource to be gone")


def test_a_scope_refused_by_policy_sends_nothing_to_digdir(
    managed: Cluster, selfservice: SelfServiceThread
) -> None:
    selfservice.clear_requests()

    managed.create_client("outside", spec(OUTSIDE_POLICY))
    ready = managed.wait_condition("outside", status="False", reason="ScopeRefusedByPolicy")

    assert OUTSIDE_POLICY in ready["message"]
    assert calls(selfservice) == []


def test_a_new_client_is_ready_once_its_registration_propagated(
    managed: Cluster, selfservice: SelfServiceThread
) -> None:
    selfservice.set_propagation_delay(PROPAGATION_DELAY)
    try:
        managed.create_client("slow", spec())
        managed.wait_condition("slow", status="False", reason="RegistrationPropagating")
        wait_ready(managed, "slow", timeout=PROPAGATION_DELAY + READY_TIMEOUT)
    finally:
        selfservice.set_propagation_delay(0)


def test_a_rotation_under_propagation_delay_never_leaves_the_secret_without_a_valid_token(
    managed: Cluster, selfservice: SelfServiceThread, standin: StandinThread
) -> None:
    managed.create_client("rotating", spec())
    wait_ready(managed, "rotating")
    old = managed.get_client("rotating")["status"]["keyId"]
    client_id = managed.get_client("rotating")["status"]["clientId"]
    selfservice.set_propagation_delay(ROTATION_PROPAGATION_DELAY)
    sampler = TokenSampler(managed, "rotating-maskinporten")
    try:
        with sampler:
            managed.patch_client(
                "rotating",
                {"metadata": {"annotations": {"maskinporten-operator.dev/rotate-key": "1"}}},
            )
            eventually(
                lambda: managed.get_client("rotating")["status"]["keyId"] != old,
                what="grants signed with the new key",
                timeout=ROTATION_PROPAGATION_DELAY + READY_TIMEOUT,
            )
            switched_at = standin.now()
            wait_ready(managed, "rotating")
            managed.force_refresh("rotating", "after-rotation")
            eventually(
                lambda: (
                    managed.get_client("rotating")["status"].get("handledForceRefresh")
                    == "after-rotation"
                ),
                what="a token requested with the new key",
            )
    finally:
        selfservice.set_propagation_delay(0)

    after = [r for r in standin.requests(client_id) if r.at >= switched_at]
    states = {k["state"] for k in managed.get_client("rotating")["status"]["keys"]}
    print(
        f"\nrotation: {sampler.samples} samples of the Secret, longest gap without a valid "
        f"token {sampler.longest_gap:.1f} s; grants after the switch: {len(after)}, rejected: "
        f"{sum(r.status != 200 for r in after)}"
    )
    assert sampler.longest_gap == 0.0
    assert after
    assert all(r.status == 200 for r in after)
    assert states == {"Active", "Retiring"}


DAY = 86_400.0


@pytest.fixture
def brief_scope(standin: StandinThread, selfservice: SelfServiceThread) -> str:
    """A scope whose tokens live 40 s: refreshed every ~20 s, and a retired key's tokens have
    all expired 40 s after the switch, so key work happens within a test."""
    standin.set_lifetime(BRIEF_SCOPE, 40)
    selfservice.grant_scope_access(ORG, BRIEF_SCOPE)
    return BRIEF_SCOPE


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def test_a_registration_expiring_soon_is_renewed_while_a_token_stays_valid(
    managed: Cluster, selfservice: SelfServiceThread, brief_scope: str
) -> None:
    selfservice.set_registration_clock_offset(-345 * DAY)  # keys posted now expire in 20 days
    try:
        managed.create_client("renewed", spec(brief_scope))
        wait_ready(managed, "renewed")
    finally:
        selfservice.set_registration_clock_offset(0)
        selfservice.clear_requests()
    [first] = managed.get_client("renewed")["status"]["keys"]
    client_id = managed.get_client("renewed")["status"]["clientId"]

    with TokenSampler(managed, "renewed-maskinporten") as sampler:
        eventually(
            lambda: (
                epoch(managed.get_client("renewed")["status"]["keys"][0]["expiresAt"])
                > time.time() + 300 * DAY
            ),
            what="the key's registration renewed for a year",
            timeout=READY_TIMEOUT + 40,
        )

    [renewed] = managed.get_client("renewed")["status"]["keys"]
    jwks = selfservice.jwks_document(client_id)
    assert jwks is not None
    [registered] = jwks["keys"]
    made = [call for call in calls(selfservice) if client_id in call]
    print(f"\nself-service API calls per renewal: {len(made)}: {made}")
    assert epoch(first["expiresAt"]) < time.time() + 30 * DAY
    assert renewed["kid"] == first["kid"] == registered["kid"]
    assert renewed["state"] == "Active"
    assert epoch(renewed["expiresAt"]) == registered["exp"]
    assert sampler.longest_gap == 0.0


def test_a_retired_key_is_removed_once_its_tokens_have_expired(
    managed: Cluster, selfservice: SelfServiceThread, brief_scope: str
) -> None:
    managed.create_client("retiring", spec(brief_scope))
    wait_ready(managed, "retiring")
    old = managed.get_client("retiring")["status"]["keyId"]
    client_id = managed.get_client("retiring")["status"]["clientId"]
    selfservice.clear_requests()

    with TokenSampler(managed, "retiring-maskinporten") as sampler:
        managed.patch_client(
            "retiring", {"metadata": {"annotations": {"maskinporten-operator.dev/rotate-key": "1"}}}
        )
        eventually(
            lambda: (
                [
                    (key["kid"] != old, key["state"])
                    for key in managed.get_client("retiring")["status"]["keys"]
                ]
                == [(True, "Active")]
            ),
            what="the retired key removed and the new one signing",
            timeout=READY_TIMEOUT + 40,
        )

    new = managed.get_client("retiring")["status"]["keyId"]
    jwks = selfservice.jwks_document(client_id)
    assert jwks is not None
    ring = json.loads(managed.secret_data("retiring-maskinporten-key")["jwks"])
    removed = [
        event["message"]
        for event in managed.events()
        if event["reason"] == "KeyRemoved" and event["involvedObject"]["name"] == "retiring"
    ]
    made = [call for call in calls(selfservice) if client_id in call]
    print(f"\nself-service API calls per rotation with the removal: {len(made)}: {made}")
    assert [key["kid"] for key in jwks["keys"]] == [new]
    assert [key["kid"] for key in ring["keys"]] == [new]
    assert len(removed) == 1
    assert old in removed[0]
    assert sampler.longest_gap == 0.0


class TokenSampler:
    """Reads the workload Secret every 0.2 s on a thread and records the longest stretch in
    which it held no token that was valid at the moment of reading."""

    def __init__(self, cluster: Cluster, secret: str) -> None:
        self._cluster, self._secret = cluster, secret
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples = 0
        self.longest_gap = 0.0

    def __enter__(self) -> TokenSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        invalid_since: float | None = None
        while not self._stop.wait(0.2):
            now = time.time()
            token = self._cluster.secret_data(self._secret).get("MASKINPORTEN_ACCESS_TOKEN")
            valid = token is not None and decode_jwt(token).claims["exp"] > now
            self.samples += 1
            if valid:
                invalid_since = None
                continue
            invalid_since = invalid_since if invalid_since is not None else now
            self.longest_gap = max(self.longest_gap, now - invalid_since + 0.2)


# --- restart, adopt, delete ---------------------------------------------------------------------


def test_a_restart_after_create_with_the_status_lost_keeps_one_client(
    managed: Cluster,
    managed_operator: ManagedOperator,
    selfservice: SelfServiceThread,
    standin: StandinThread,
) -> None:
    managed.create_client("restarted", spec())
    wait_ready(managed, "restarted")
    managed_operator.stop()
    managed.custom.patch_namespaced_custom_object_status(
        "maskinporten-operator.dev",
        "v1alpha1",
        managed.namespace,
        "maskinportenclients",
        "restarted",
        {"status": {"clientId": None, "keys": None, "conditions": None}},
    )

    managed_operator.start()
    wait_ready(managed, "restarted")

    found = clients_described(selfservice, standin, description(managed, "restarted"))
    assert found == [managed.get_client("restarted")["status"]["clientId"]]


def test_an_adopted_client_keeps_its_hand_registered_keys(
    managed: Cluster, selfservice: SelfServiceThread
) -> None:
    client_id = f"hand-{managed.namespace}"
    hand_key = generate_client_key()
    selfservice.register_client(
        Client(client_id, ORG, frozenset({SCOPE}), (RegisteredKey(hand_key.public_jwk()),)),
        description="registered in the portal",
    )

    managed.create_client("adopted", spec(clientId=client_id, registration={"adopt": True}))
    wait_ready(managed, "adopted")

    jwks = selfservice.jwks_document(client_id)
    assert jwks is not None
    kids = [key["kid"] for key in jwks["keys"]]
    assert kids == [hand_key.kid, managed.get_client("adopted")["status"]["keyId"]]
    managed.delete_client("adopted")
    eventually(lambda: not managed.client_exists("adopted"), what="the resource to be gone")
    assert selfservice.client_document(client_id) is not None


@pytest.mark.parametrize(("policy", "kept"), [("Delete", False), ("Retain", True)])
def test_deleting_the_resource_follows_its_deletion_policy(
    managed: Cluster, selfservice: SelfServiceThread, policy: str, kept: bool
) -> None:
    managed.create_client("gone", spec(registration={"deletionPolicy": policy}))
    wait_ready(managed, "gone")
    client_id = managed.get_client("gone")["status"]["clientId"]

    managed.delete_client("gone")
    eventually(lambda: not managed.client_exists("gone"), what="the resource to be gone")

    assert (selfservice.client_document(client_id) is not None) == kept


@pytest.fixture
def replicas(
    kubeconfig: Path,
    crd_installed: None,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    standin: StandinThread,
    selfservice: SelfServiceThread,
    operator_namespace: str,
    tmp_path: Path,
) -> Iterator[tuple[Cluster, OperatorProcess, OperatorProcess]]:
    """A namespace watched by two replicas sharing a Lease; the first leads."""
    credentials = f"{operator_namespace}/{CREDENTIAL_SECRET}"
    settings = {
        **managed_settings(standin, selfservice, "managed-s-*", credentials),
        "MASKINPORTEN_OPERATOR_METRICS_PORT": "0",
    }
    started: list[OperatorProcess] = []
    for namespace in new_namespace(core, "managed-s-"):
        try:
            started.append(OperatorProcess(kubeconfig, tmp_path / "leader.log", settings))
            started.append(
                OperatorProcess(kubeconfig, tmp_path / "standby.log", settings, leading=False)
            )
            yield Cluster(core, custom, namespace), started[0], started[1]
        finally:
            for replica in started:
                replica.stop()


@pytest.mark.parametrize("leader_killed", [False, True], ids=["leader deletes", "leader killed"])
def test_a_standby_waits_out_a_deletion_writing_nothing_on_the_resource(
    replicas: tuple[Cluster, OperatorProcess, OperatorProcess],
    selfservice: SelfServiceThread,
    leader_killed: bool,
) -> None:
    """The standby neither deletes nor fails kopf's handler (which would write kopf's retry
    state on the resource): it waits until the leader is done, or until the Lease is its own
    (the leader killed) and then deletes the client at Digdir itself."""
    cluster, leader, standby = replicas
    cluster.create_client("parting", spec())
    wait_ready(cluster, "parting")
    client_id = cluster.get_client("parting")["status"]["clientId"]
    annotations_before = annotations_of(cluster, "parting")
    if leader_killed:
        leader.process.kill()
        leader.process.wait()

    cluster.delete_client("parting")
    seen: list[dict[str, str] | None] = []

    def gone() -> bool:
        seen.append(annotations_of(cluster, "parting"))
        return seen[-1] is None

    eventually(gone, what="the resource gone", timeout=90)

    assert selfservice.client_document(client_id) is None
    assert all(found in (annotations_before, None) for found in seen), seen
    assert "standing by" in standby.logs() or not leader_killed


def annotations_of(cluster: Cluster, name: str) -> dict[str, str] | None:
    """The resource's annotations; None when it is gone."""
    try:
        return cluster.get_client(name)["metadata"].get("annotations") or {}
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return None
        raise


# --- the admin credential and its token ---------------------------------------------------------


def test_many_managed_clients_share_one_admin_token(
    managed: Cluster,
    managed_operator: ManagedOperator,
    standin: StandinThread,
    admin: AdminClient,
) -> None:
    count = 100
    managed_operator.stop()
    managed_operator.start()  # with no admin token cached
    before = standin.request_count(admin.client_id)
    started = time.monotonic()

    for index in range(count):
        managed.create_client(f"many-{index}", spec())
    for index in range(count):
        wait_ready(managed, f"many-{index}", timeout=180)

    requests = standin.request_count(admin.client_id) - before
    print(
        f"\nadmin token requests for {count} managed clients: {requests} "
        f"(all Ready after {time.monotonic() - started:.0f} s)"
    )
    assert requests <= 1  # 0 when resources left by earlier tests had the operator get it first


OwnOperator = Callable[[str, str], contextlib.AbstractContextManager[Cluster]]


@pytest.fixture
def operator_of_its_own(
    kubeconfig: Path,
    crd_installed: None,
    core: kubernetes.client.CoreV1Api,
    custom: kubernetes.client.CustomObjectsApi,
    standin: StandinThread,
    selfservice: SelfServiceThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> OwnOperator:
    """``(prefix, credentials)`` → a namespace and an operator watching ``prefix*`` with the
    admin credential Secret ``credentials``. The namespace exists before the operator starts,
    so the operator finds it in its first list of namespaces, not from a later watch event."""

    @contextlib.contextmanager
    def start(prefix: str, credentials: str) -> Iterator[Cluster]:
        for namespace in new_namespace(core, prefix):
            log = tmp_path_factory.mktemp(prefix.rstrip("-")) / "operator.log"
            settings = managed_settings(standin, selfservice, f"{prefix}*", credentials)
            operator = OperatorProcess(kubeconfig, log, settings)
            try:
                yield Cluster(core, custom, namespace)
            finally:
                operator.stop()

    return start


def test_without_the_admin_credential_managed_clients_say_what_to_configure(
    operator_of_its_own: OwnOperator,
) -> None:
    with operator_of_its_own("managed-x-", "nowhere/missing") as cluster:
        cluster.create_client("lonely", spec())

        ready = cluster.wait_condition("lonely", status="False", reason="SelfServiceNotConfigured")

        assert "nowhere/missing" in ready["message"]


def test_an_admin_credential_created_after_the_start_is_used_without_a_restart(
    operator_of_its_own: OwnOperator,
    core: kubernetes.client.CoreV1Api,
    selfservice: SelfServiceThread,
    operator_namespace: str,
    admin: AdminClient,
) -> None:
    with operator_of_its_own("managed-l-", f"{operator_namespace}/late-admin") as cluster:
        cluster.create_client("early", spec())
        cluster.wait_condition("early", status="False", reason="SelfServiceNotConfigured")

        core.create_namespaced_secret(
            operator_namespace,
            {"metadata": {"name": "late-admin"}, "stringData": admin_credential_data(admin)},
        )

        wait_ready(cluster, "early")
        client_id = cluster.get_client("early")["status"]["clientId"]
        assert selfservice.client_document(client_id) is not None


def test_a_wrong_admin_credential_is_one_clear_condition(
    operator_of_its_own: OwnOperator,
    core: kubernetes.client.CoreV1Api,
    operator_namespace: str,
    admin: AdminClient,
) -> None:
    core.create_namespaced_secret(
        operator_namespace,
        {
            "metadata": {"name": "wrong-admin"},
            "stringData": admin_credential_data(admin, "not-an-admin-client"),
        },
    )
    with operator_of_its_own("managed-w-", f"{operator_namespace}/wrong-admin") as cluster:
        cluster.create_client("refused", spec())

        ready = cluster.wait_condition("refused", status="False", reason="AdminTokenRejected")

        assert "self-service admin token" in ready["message"]
        assert cluster.condition("refused", "ClientRegistered")["reason"] == ("AdminTokenRejected")
