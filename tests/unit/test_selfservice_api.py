"""The self-service API client against the self-service stand-in on a local port.

No HTTP mocking: requests go over sockets to the stand-ins running on the test's loop, whose
clock stands still unless a test moves it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from maskinporten_operator.adapters import selfservice as adapter
from maskinporten_operator.adapters.kube import WriteFence
from maskinporten_operator.adapters.selfservice import (
    ADMIN_SCOPES,
    FAILURE_HOLD_SECONDS,
    PROD_BASE_URL,
    TEST_BASE_URL,
    AdminCredentialSecret,
    AdminTokenProvider,
    SelfServiceApi,
    admin_credential,
    base_url,
)
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, generate_client_key
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.oauth.grant import GrantClaims, sign_grant
from maskinporten_operator.ports import (
    ClientRegistration,
    SelfServiceError,
    SelfServiceRejected,
    SelfServiceUnavailable,
    inaccessible_scopes,
)
from maskinporten_operator.settings import Environment
from maskinporten_testbed.fakekube import FakeKube
from maskinporten_testbed.selfservice import (
    AdminClient,
    SelfServiceStandin,
    provision_admin_client,
    provision_jwk_admin_client,
)
from maskinporten_testbed.standin import FrozenClock, MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate, CertificateAuthority

ORG = "123456789"
SCOPE = "test:read"
OTHER_SCOPE = "test:write"
PUBLIC_SCOPE = "open:data"
UNKNOWN_SCOPE = "nobody:has.this"
DESCRIPTION = "cluster-a:team:weather"
YEAR = 365 * 24 * 3600
ADMIN_LIFETIME = 120


@pytest.fixture(scope="module")
def workload_keys() -> list[ClientKey]:
    return [generate_client_key() for _ in range(2)]


@pytest.fixture
async def standin(ca: CertificateAuthority) -> AsyncIterator[MaskinportenStandin]:
    server = MaskinportenStandin(
        trusted_cas=[ca.root], default_lifetime=ADMIN_LIFETIME, clock=FrozenClock()
    )
    async with server:
        yield server


@pytest.fixture
async def selfservice(standin: MaskinportenStandin) -> AsyncIterator[SelfServiceStandin]:
    async with SelfServiceStandin(standin) as server:
        server.grant_scope_access(ORG, SCOPE, OTHER_SCOPE)
        server.add_public_scope(PUBLIC_SCOPE)
        yield server


@pytest.fixture
def admin(
    standin: MaskinportenStandin,
    ca: CertificateAuthority,
    business_certificate: BusinessCertificate,
) -> AdminClient:
    return provision_admin_client(standin, ca, ORG, certificate=business_certificate)


@pytest.fixture
async def auth() -> AsyncIterator[AuthorizationServerClient]:
    client = AuthorizationServerClient(timeout_seconds=5.0)
    yield client
    await client.aclose()


CREDENTIAL_NAMESPACE = "operator"
CREDENTIAL_NAME = "selfservice-admin"


def put_credential(kube: FakeKube, client_id: str, certificate: BusinessCertificate) -> None:
    """The admin credential Secret as an administrator creates (or edits) it."""
    kube.put_secret(
        CREDENTIAL_NAMESPACE,
        CREDENTIAL_NAME,
        {
            "clientId": client_id,
            "tls.key": certificate.private_key_pem().decode(),
            "tls.crt": certificate.chain_pem().decode(),
        },
    )


def admin_tokens(
    auth: AuthorizationServerClient, standin: MaskinportenStandin, kube: FakeKube
) -> AdminTokenProvider:
    """Admin tokens for the credential in the Secret ``operator/selfservice-admin`` of
    ``kube``, as the operator sets them up."""
    credential = AdminCredentialSecret(
        kube, f"{CREDENTIAL_NAMESPACE}/{CREDENTIAL_NAME}", clock=standin.clock.now
    )
    return AdminTokenProvider(
        auth, credential=credential, issuer=standin.issuer, clock=standin.clock.now
    )


@pytest.fixture
def tokens(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    admin: AdminClient,
    business_certificate: BusinessCertificate,
) -> AdminTokenProvider:
    kube = FakeKube()
    put_credential(kube, admin.client_id, business_certificate)
    return admin_tokens(auth, standin, kube)


@pytest.fixture
async def api(
    selfservice: SelfServiceStandin, tokens: AdminTokenProvider
) -> AsyncIterator[SelfServiceApi]:
    client = SelfServiceApi(selfservice.base_url, tokens, timeout_seconds=5.0)
    yield client
    await client.aclose()


def registration(*scopes: str) -> ClientRegistration:
    return ClientRegistration("weather", DESCRIPTION, scopes or (SCOPE,))


# --- clients ------------------------------------------------------------------------------------


async def test_a_created_client_is_read_back_with_its_id_and_scopes(api: SelfServiceApi) -> None:
    created = await api.create_client(registration(SCOPE, PUBLIC_SCOPE))

    read = await api.get_client(created.client_id)

    assert read == created
    assert (read.integration_type, read.description) == ("maskinporten", DESCRIPTION)
    assert sorted(read.scopes) == sorted([SCOPE, PUBLIC_SCOPE])


async def test_updating_a_client_replaces_its_scopes(api: SelfServiceApi) -> None:
    created = await api.create_client(registration(SCOPE))

    updated = await api.update_client(created.client_id, registration(OTHER_SCOPE))

    assert updated.scopes == (OTHER_SCOPE,)
    assert (await api.get_client(created.client_id)).scopes == (OTHER_SCOPE,)


async def test_a_clients_token_lifetime_is_sent_and_read_back(api: SelfServiceApi) -> None:
    wanted = replace(registration(), access_token_lifetime=1800)

    created = await api.create_client(wanted)
    updated = await api.update_client(created.client_id, replace(wanted, access_token_lifetime=900))

    assert created.access_token_lifetime == 1800
    assert updated.access_token_lifetime == 900


async def test_the_list_holds_the_created_client_under_its_description(
    api: SelfServiceApi,
) -> None:
    created = await api.create_client(registration())

    listed = await api.list_clients()

    assert [c.client_id for c in listed if c.description == DESCRIPTION] == [created.client_id]


async def test_a_deleted_client_is_not_found(api: SelfServiceApi) -> None:
    created = await api.create_client(registration())

    await api.delete_client(created.client_id)

    with pytest.raises(SelfServiceRejected) as caught:
        await api.get_client(created.client_id)
    assert caught.value.status == 404


# --- keys ---------------------------------------------------------------------------------------


async def test_registered_keys_come_back_with_an_expiry_a_year_ahead(
    api: SelfServiceApi, standin: MaskinportenStandin, workload_keys: list[ClientKey]
) -> None:
    client_id = (await api.create_client(registration())).client_id

    posted = await api.replace_jwks(client_id, [workload_keys[0].public_jwk()])

    assert posted == await api.get_jwks(client_id)
    (entry,) = posted.keys
    assert entry.kid == workload_keys[0].kid
    assert entry.expires_at == int(standin.clock.now() + YEAR)
    assert entry.jwk == workload_keys[0].public_jwk()


async def test_a_registered_key_signs_grants_the_token_endpoint_accepts(
    api: SelfServiceApi,
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    workload_keys: list[ClientKey],
) -> None:
    client_id = (await api.create_client(registration())).client_id
    await api.replace_jwks(client_id, [workload_keys[0].public_jwk()])
    claims = GrantClaims(client_id=client_id, audience=standin.issuer, scopes=(SCOPE,))

    grant = sign_grant(claims, workload_keys[0], now=int(standin.clock.now()))
    token = await auth.request_token(standin.token_endpoint, grant)

    assert token.document["scope"] == SCOPE


async def test_a_key_posted_again_beside_a_new_one_is_kept_and_renewed(
    api: SelfServiceApi, standin: MaskinportenStandin, workload_keys: list[ClientKey]
) -> None:
    client_id = (await api.create_client(registration())).client_id
    first = (await api.replace_jwks(client_id, [workload_keys[0].public_jwk()])).keys[0]
    standin.set_clock_offset(30 * 24 * 3600)

    both = await api.replace_jwks(client_id, [first.jwk, workload_keys[1].public_jwk()])

    assert [key.kid for key in both.keys] == [workload_keys[0].kid, workload_keys[1].kid]
    renewed = both.key(workload_keys[0].kid)
    assert renewed is not None
    assert renewed.expires_at is not None
    assert first.expires_at is not None
    assert renewed.expires_at - first.expires_at == 30 * 24 * 3600


# --- scopes -------------------------------------------------------------------------------------


async def test_accessible_scopes_include_the_public_ones(api: SelfServiceApi) -> None:
    access = await api.accessible_scopes()

    assert {a.scope for a in access if a.accessible} == {SCOPE, OTHER_SCOPE, PUBLIC_SCOPE}


async def test_inaccessible_scopes_are_named_before_anything_is_sent(api: SelfServiceApi) -> None:
    access = await api.accessible_scopes()

    assert inaccessible_scopes([SCOPE, UNKNOWN_SCOPE, PUBLIC_SCOPE], access) == [UNKNOWN_SCOPE]


def test_base_urls_follow_the_environment() -> None:
    assert (
        base_url(Environment.TEST)
        == TEST_BASE_URL
        == "https://api.test.samarbeid.digdir.no/api/v1/"
    )
    assert base_url(Environment.PROD) == PROD_BASE_URL == "https://api.samarbeid.digdir.no/api/v1/"
    assert base_url(Environment.CUSTOM) is None


# --- errors -------------------------------------------------------------------------------------


async def test_a_refused_request_is_a_rejection_with_the_apis_own_text(
    api: SelfServiceApi,
) -> None:
    with pytest.raises(SelfServiceRejected) as caught:
        await api.create_client(registration(UNKNOWN_SCOPE))

    error = caught.value
    assert (error.reason, error.status, error.error) == (
        "SelfServiceRejected",
        400,
        "invalid_client_metadata",
    )
    assert error.description is not None
    assert UNKNOWN_SCOPE in error.description
    assert UNKNOWN_SCOPE in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_server_error_or_throttling_is_unavailable(
    api: SelfServiceApi, selfservice: SelfServiceStandin, status: int
) -> None:
    selfservice.fail_next(1, status=status)

    with pytest.raises(SelfServiceUnavailable) as caught:
        await api.list_clients()

    assert (caught.value.reason, caught.value.status) == ("SelfServiceUnavailable", status)


async def test_an_unreachable_api_is_unavailable(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    await selfservice.refuse_connections()

    with pytest.raises(SelfServiceUnavailable) as caught:
        await api.list_clients()

    assert (caught.value.reason, caught.value.status) == ("SelfServiceUnreachable", 0)


async def test_a_timeout_is_unavailable(
    selfservice: SelfServiceStandin, tokens: AdminTokenProvider
) -> None:
    selfservice.set_latency(2.0)
    impatient = SelfServiceApi(selfservice.base_url, tokens, timeout_seconds=0.2)

    with pytest.raises(SelfServiceUnavailable, match="timed out") as caught:
        await impatient.list_clients()
    await impatient.aclose()

    assert caught.value.reason == "SelfServiceUnreachable"


async def test_a_write_is_not_sent_while_this_replica_does_not_lead(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    api.fence = WriteFence(may_write=lambda: False, timeout_seconds=5.0)

    with pytest.raises(SelfServiceUnavailable, match="not sent: this replica is not the leader"):
        await api.create_client(registration())

    assert [r.method for r in selfservice.requests()] == []


async def test_reads_are_sent_while_this_replica_does_not_lead(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    api.fence = WriteFence(may_write=lambda: False, timeout_seconds=5.0)

    await api.list_clients()

    assert [r.method for r in selfservice.requests()] == ["GET"]


async def test_each_write_asks_the_fence_just_before_it_is_sent(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    """The admin token is fetched first; leadership lost meanwhile stops the write."""
    answers = iter([True, False])
    api.fence = WriteFence(may_write=lambda: next(answers), timeout_seconds=5.0)
    created = await api.create_client(registration())

    with pytest.raises(SelfServiceUnavailable, match="not the leader"):
        await api.delete_client(created.client_id)

    assert [r.method for r in selfservice.requests()] == ["POST"]


async def test_a_write_is_given_up_after_the_fences_timeout(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    """The API's own timeout (5 s here, 10 s by default) is longer than the election's write
    margin: the fence's timeout bounds the write."""
    api.fence = WriteFence(may_write=lambda: True, timeout_seconds=0.2)
    selfservice.set_latency(2.0)

    with pytest.raises(SelfServiceUnavailable, match="timed out") as caught:
        await api.create_client(registration())

    assert caught.value.reason == "SelfServiceUnreachable"


async def test_an_answer_that_cannot_be_read_is_a_bad_response(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    selfservice.fail_next(1, status=200, body="<html>proxy</html>", content_type="text/html")

    with pytest.raises(SelfServiceUnavailable) as caught:
        await api.list_clients()

    assert caught.value.reason == "BadResponse"


async def test_an_error_never_carries_the_admin_token(
    api: SelfServiceApi, selfservice: SelfServiceStandin, tokens: AdminTokenProvider
) -> None:
    token = await tokens.token()
    echo = json.dumps({"error": "invalid_request", "error_description": f"bad header {token}"})
    selfservice.fail_next(1, status=400, body=echo)

    with pytest.raises(SelfServiceRejected) as caught:
        await api.list_clients()

    assert token not in str(caught.value)
    assert caught.value.description is not None
    assert token not in caught.value.description


async def test_an_errors_text_is_one_bounded_line_with_the_token_redacted_before_the_cut(
    api: SelfServiceApi, selfservice: SelfServiceStandin, tokens: AdminTokenProvider
) -> None:
    token = await tokens.token()
    flood = "x" * 280 + f"\n{token}\n" + "y" * 1000
    selfservice.fail_next(1, status=400, body=json.dumps({"error_description": flood}))

    with pytest.raises(SelfServiceRejected) as caught:
        await api.list_clients()

    description = caught.value.description
    assert description is not None
    assert (len(description), description[-1], "\n" in description) == (300, "…", False)
    assert token[:12] not in description


# --- the admin token ----------------------------------------------------------------------------


async def test_the_admin_token_carries_the_dcr_scopes(
    tokens: AdminTokenProvider, standin: MaskinportenStandin
) -> None:
    claims = standin.access_token_claims(await tokens.token())

    assert claims is not None
    assert claims["scope"].split() == list(ADMIN_SCOPES)
    assert claims["client_amr"] == "virksomhetssertifikat"


async def test_concurrent_callers_share_one_admin_token_request(
    api: SelfServiceApi, standin: MaskinportenStandin, admin: AdminClient
) -> None:
    await asyncio.gather(*(api.list_clients() for _ in range(25)))

    assert standin.request_count(admin.client_id) == 1


async def test_the_admin_token_is_reused_until_shortly_before_it_expires(
    tokens: AdminTokenProvider, standin: MaskinportenStandin, admin: AdminClient
) -> None:
    first = await tokens.token()
    standin.set_clock_offset(ADMIN_LIFETIME / 2 - 1)
    reused = await tokens.token()
    standin.set_clock_offset(ADMIN_LIFETIME / 2)
    renewed = await tokens.token()

    assert reused == first
    assert renewed != first
    assert standin.request_count(admin.client_id) == 2


async def test_a_401_gets_a_new_admin_token_and_the_request_is_sent_again(
    api: SelfServiceApi,
    selfservice: SelfServiceStandin,
    standin: MaskinportenStandin,
    admin: AdminClient,
) -> None:
    await api.list_clients()
    refused = json.dumps({"error": "invalid_token", "error_description": "revoked"})
    selfservice.fail_next(1, status=401, body=refused)

    await api.list_clients()

    assert standin.request_count(admin.client_id) == 2
    assert [r.status for r in selfservice.requests()] == [200, 401, 200]


async def test_a_second_401_in_a_row_is_a_rejection(
    api: SelfServiceApi, selfservice: SelfServiceStandin
) -> None:
    refused = json.dumps({"error": "invalid_token", "error_description": "revoked"})
    selfservice.fail_next(2, status=401, body=refused)

    with pytest.raises(SelfServiceRejected) as caught:
        await api.list_clients()

    assert (caught.value.status, caught.value.description) == (401, "revoked")


async def test_a_refused_admin_token_is_a_rejection_with_maskinportens_text(
    api: SelfServiceApi, standin: MaskinportenStandin, admin: AdminClient
) -> None:
    standin.remove_client(admin.client_id)

    with pytest.raises(SelfServiceRejected) as caught:
        await api.list_clients()

    assert caught.value.reason == "AdminTokenRejected"
    assert caught.value.description is not None
    assert caught.value.description.startswith("MP-100")


async def test_a_failed_admin_token_request_is_not_repeated_during_the_hold(
    tokens: AdminTokenProvider, standin: MaskinportenStandin, admin: AdminClient
) -> None:
    standin.fail_next(1, status=503)

    outcomes = await asyncio.gather(*(tokens.token() for _ in range(5)), return_exceptions=True)
    with pytest.raises(SelfServiceUnavailable):
        await tokens.token()
    standin.set_clock_offset(10)
    token = await tokens.token()

    assert all(isinstance(o, SelfServiceUnavailable) for o in outcomes)
    assert {o.reason for o in outcomes if isinstance(o, SelfServiceUnavailable)} == {
        "AdminTokenUnavailable"
    }
    assert token
    assert standin.request_count(admin.client_id) == 2


# --- the admin credential Secret ----------------------------------------------------------------


@pytest.mark.parametrize("layout", ["pem", "pkcs12"])
def test_the_admin_credential_is_read_from_a_pem_or_pkcs12_secret(
    business_certificate: BusinessCertificate, layout: str
) -> None:
    data = {"clientId": b"admin-client\n"}
    if layout == "pem":
        data |= {
            "tls.key": business_certificate.private_key_pem(),
            "tls.crt": business_certificate.chain_pem(),
        }
    else:
        data |= {"keystore.p12": business_certificate.pkcs12(b"s3cret"), "password": b"s3cret\n"}

    credential = admin_credential(data, source="Secret ops/admin", now=datetime.now(UTC))

    assert credential.client_id == "admin-client"
    assert credential.key.certificate_chain


def test_the_admin_credential_password_is_read_without_its_trailing_line_break(
    business_certificate: BusinessCertificate,
) -> None:
    data = {
        "clientId": b"admin-client",
        "keystore.p12": business_certificate.pkcs12(b"s3cret"),
        "password": b"s3cret\r\n",
    }

    credential = admin_credential(data, source="Secret ops/admin", now=datetime.now(UTC))

    assert credential.key.certificate_chain


def test_an_admin_credential_without_client_id_says_what_to_add(
    business_certificate: BusinessCertificate,
) -> None:
    data = {"tls.key": business_certificate.private_key_pem()}

    with pytest.raises(InvalidKeyError, match="'clientId'"):
        admin_credential(data, source="Secret ops/admin", now=datetime.now(UTC))


def test_a_pem_admin_key_without_a_certificate_chain_is_refused(
    business_certificate: BusinessCertificate,
) -> None:
    data = {"clientId": b"admin", "tls.key": business_certificate.private_key_pem()}

    with pytest.raises(InvalidKeyError, match=r"business certificate.*private JWK under 'jwk'"):
        admin_credential(data, source="Secret ops/admin", now=datetime.now(UTC))


def test_the_admin_credential_may_be_a_private_jwk_registered_on_the_admin_client(
    client_key: ClientKey,
) -> None:
    data = {"clientId": b"admin", "jwk": client_key.private_jwk_json().encode()}

    credential = admin_credential(data, source="Secret ops/admin", now=datetime.now(UTC))

    assert credential.key.kid == client_key.kid
    assert not credential.key.certificate_chain


async def test_an_admin_client_registered_with_a_jwk_manages_clients(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    selfservice: SelfServiceStandin,
    client_key: ClientKey,
) -> None:
    admin_id = provision_jwk_admin_client(standin, ORG, client_key.public_jwk())
    kube = FakeKube()
    secret = {"clientId": admin_id, "jwk": client_key.private_jwk_json()}
    kube.put_secret(CREDENTIAL_NAMESPACE, CREDENTIAL_NAME, secret)
    api = SelfServiceApi(selfservice.base_url, admin_tokens(auth, standin, kube))
    try:
        created = await api.create_client(registration())
    finally:
        await api.aclose()

    assert created.scopes == (SCOPE,)


# --- the admin credential, read when an admin token is needed ------------------------------------


@pytest.fixture
def kube() -> FakeKube:
    """The operator's namespace, without the admin credential Secret until a test puts it."""
    return FakeKube()


async def refusal(tokens: AdminTokenProvider) -> SelfServiceError:
    with pytest.raises(SelfServiceError) as raised:
        await tokens.token()
    return raised.value


async def test_a_missing_credential_secret_says_what_the_administrator_creates(
    auth: AuthorizationServerClient, standin: MaskinportenStandin, kube: FakeKube
) -> None:
    error = await refusal(admin_tokens(auth, standin, kube))

    assert isinstance(error, SelfServiceRejected)
    assert error.reason == "SelfServiceNotConfigured"
    message = str(error)
    assert "operator/selfservice-admin" in message
    assert "MASKINPORTEN_OPERATOR_SELF_SERVICE_CREDENTIALS" in message
    assert "'clientId'" in message
    assert "no restart needed" in message


async def test_a_credential_secret_created_later_is_used_without_a_restart(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    kube: FakeKube,
    admin: AdminClient,
    business_certificate: BusinessCertificate,
) -> None:
    tokens = admin_tokens(auth, standin, kube)
    await refusal(tokens)
    put_credential(kube, admin.client_id, business_certificate)
    standin.set_clock_offset(FAILURE_HOLD_SECONDS)

    token = await tokens.token()

    assert token
    assert standin.request_count(admin.client_id) == 1


async def test_a_missing_credential_is_read_once_per_hold_for_all_callers(
    auth: AuthorizationServerClient, standin: MaskinportenStandin, kube: FakeKube
) -> None:
    tokens = admin_tokens(auth, standin, kube)

    await asyncio.gather(*(refusal(tokens) for _ in range(20)))
    standin.set_clock_offset(FAILURE_HOLD_SECONDS - 1)
    await refusal(tokens)
    reads_within_the_hold = kube.calls
    standin.set_clock_offset(FAILURE_HOLD_SECONDS)
    await refusal(tokens)

    assert reads_within_the_hold == 1
    assert kube.calls == 2


async def test_a_kubernetes_error_reading_the_credential_is_retried_after_the_hold(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    kube: FakeKube,
    admin: AdminClient,
    business_certificate: BusinessCertificate,
) -> None:
    put_credential(kube, admin.client_id, business_certificate)
    kube.fail_next(1, status=503)
    tokens = admin_tokens(auth, standin, kube)

    error = await refusal(tokens)
    standin.set_clock_offset(FAILURE_HOLD_SECONDS)
    token = await tokens.token()

    assert (type(error), error.reason) == (SelfServiceUnavailable, "KubernetesApiError")
    assert "operator/selfservice-admin" in str(error)
    assert token


async def test_a_credential_without_client_id_says_what_to_add(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    kube: FakeKube,
    business_certificate: BusinessCertificate,
) -> None:
    put_credential(kube, "", business_certificate)

    error = await refusal(admin_tokens(auth, standin, kube))

    assert error.reason == "SelfServiceNotConfigured"
    assert "no 'clientId'" in str(error)


async def test_a_fixed_credential_secret_is_used_at_the_next_admin_token_request(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    kube: FakeKube,
    admin: AdminClient,
    business_certificate: BusinessCertificate,
) -> None:
    put_credential(kube, "not-the-admin-client", business_certificate)
    tokens = admin_tokens(auth, standin, kube)
    error = await refusal(tokens)
    put_credential(kube, admin.client_id, business_certificate)
    standin.set_clock_offset(FAILURE_HOLD_SECONDS)

    token = await tokens.token()

    assert error.reason == "AdminTokenRejected"
    assert token


async def test_an_unchanged_credential_secret_is_read_per_admin_token_but_parsed_once(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    kube: FakeKube,
    admin: AdminClient,
    business_certificate: BusinessCertificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> adapter.AdminCredential:
        parsed.append(kwargs["source"])
        return admin_credential(*args, **kwargs)

    monkeypatch.setattr(adapter, "admin_credential", counting)
    put_credential(kube, admin.client_id, business_certificate)
    tokens = admin_tokens(auth, standin, kube)
    await tokens.token()
    standin.set_clock_offset(ADMIN_LIFETIME)

    await tokens.token()

    assert standin.request_count(admin.client_id) == 2
    assert kube.calls == 2
    assert len(parsed) == 1


async def test_a_missing_credential_is_logged_once_not_per_read(
    auth: AuthorizationServerClient,
    standin: MaskinportenStandin,
    kube: FakeKube,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens = admin_tokens(auth, standin, kube)

    with caplog.at_level(logging.INFO, logger=adapter.__name__):
        await refusal(tokens)
        standin.set_clock_offset(FAILURE_HOLD_SECONDS)
        await refusal(tokens)

    assert [r.levelname for r in caplog.records if r.name == adapter.__name__] == ["ERROR"]
