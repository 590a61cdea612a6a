"""What the workload Secret holds, and when an existing Secret already holds it."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

from maskinporten_operator.reconcile import secret_bodies
from maskinporten_operator.reconcile.secret_bodies import (
    DATA_HASH_ANNOTATION,
    TOKENS_ANNOTATION,
    Endpoints,
    IssuedToken,
    Owner,
    Role,
    data_hash,
    differs,
    secret_body,
    token_annotations,
    tokens_in_secret,
    workload_data,
)
from maskinporten_operator.rfc3339 import parse_time

ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6InRlc3Q6cmVhZCJ9.c2lnbmF0dXJl"
ISSUED_AT = 1_800_000_000
TOKEN = IssuedToken(
    access_token=ACCESS_TOKEN,
    issued_at=ISSUED_AT,
    expires_at=ISSUED_AT + 3600,
    fingerprint=secret_bodies.fingerprint("client", "https://test.maskinporten.no/", "test:read"),
)
ENDPOINTS = Endpoints(
    issuer="https://test.maskinporten.no/",
    token_endpoint="https://test.maskinporten.no/token",
    well_known_url="https://test.maskinporten.no/.well-known/oauth-authorization-server",
    jwks_uri="https://test.maskinporten.no/jwk",
)
OWNER = Owner(name="billing", uid="6f1c2a9e-0000-4000-8000-000000000001")
WORKLOAD_KEYS = {
    "MASKINPORTEN_ACCESS_TOKEN",
    "MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT",
    "MASKINPORTEN_CLIENT_ID",
    "MASKINPORTEN_SCOPES",
    "MASKINPORTEN_ISSUER",
    "MASKINPORTEN_TOKEN_ENDPOINT",
    "MASKINPORTEN_WELL_KNOWN_URL",
    "MASKINPORTEN_JWKS_URI",
}


def data(client_jwk: str | None = None, token: IssuedToken = TOKEN) -> dict[str, str]:
    return workload_data(
        tokens=[token],
        client_id="client",
        scopes=("test:read", "test:write"),
        endpoints=ENDPOINTS,
        client_jwk=client_jwk,
    )


def body(token: IssuedToken = TOKEN, *, owned: bool = True) -> dict[str, Any]:
    return secret_body(
        name="billing-maskinporten",
        namespace="team-a",
        owner=OWNER,
        role=Role.WORKLOAD,
        data=data(token=token),
        annotations=token_annotations([token]),
        owned=owned,
    )


def as_read_back(desired: dict[str, Any]) -> dict[str, Any]:
    """The Secret as the API server returns it: the same content plus server-set metadata."""
    existing = copy.deepcopy(desired)
    existing["metadata"].update(resourceVersion="4711", uid="abc", creationTimestamp="x")
    existing["metadata"]["labels"]["team"] = "billing"
    existing["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied"] = "{}"
    return existing


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- workload data ------------------------------------------------------------------------------


def test_workload_data_holds_exactly_the_maskinporten_keys() -> None:
    assert set(data()) == WORKLOAD_KEYS


def test_workload_data_holds_the_client_jwk_only_when_given() -> None:
    assert "MASKINPORTEN_CLIENT_JWK" not in data()
    assert data(client_jwk='{"kty":"RSA"}')["MASKINPORTEN_CLIENT_JWK"] == '{"kty":"RSA"}'
    assert set(data(client_jwk="{}")) == WORKLOAD_KEYS | {"MASKINPORTEN_CLIENT_JWK"}


def test_workload_data_values() -> None:
    values = data()

    assert values["MASKINPORTEN_ACCESS_TOKEN"] == ACCESS_TOKEN
    assert values["MASKINPORTEN_CLIENT_ID"] == "client"
    assert values["MASKINPORTEN_SCOPES"] == "test:read test:write"
    assert values["MASKINPORTEN_ISSUER"] == ENDPOINTS.issuer
    assert values["MASKINPORTEN_TOKEN_ENDPOINT"] == ENDPOINTS.token_endpoint
    assert values["MASKINPORTEN_WELL_KNOWN_URL"] == ENDPOINTS.well_known_url
    assert values["MASKINPORTEN_JWKS_URI"] == ENDPOINTS.jwks_uri


def test_expiry_is_rfc_3339_utc_with_z() -> None:
    expires = data()["MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT"]

    assert expires == "2027-01-15T09:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", expires)


# --- data hash ----------------------------------------------------------------------------------


def test_data_hash_is_stable_regardless_of_key_order() -> None:
    forward = {"a": "1", "b": "2", "c": "3"}
    backward = {"c": "3", "b": "2", "a": "1"}

    assert data_hash(forward) == data_hash(backward)


def test_data_hash_changes_when_a_value_changes() -> None:
    assert data_hash({"a": "1"}) != data_hash({"a": "2"})


def test_data_hash_does_not_confuse_keys_and_values() -> None:
    assert data_hash({"a": "b", "c": ""}) != data_hash({"a": "", "b": "c"})


# --- the Secret body ----------------------------------------------------------------------------


def test_secret_body_is_an_opaque_secret_with_base64_data() -> None:
    rendered = body()

    assert (rendered["apiVersion"], rendered["kind"], rendered["type"]) == (
        "v1",
        "Secret",
        "Opaque",
    )
    assert rendered["data"]["MASKINPORTEN_ACCESS_TOKEN"] == b64(ACCESS_TOKEN)
    assert secret_bodies.decode_data(rendered) == data()


def test_secret_body_is_labelled_managed_by_maskinporten_operator() -> None:
    labels = body()["metadata"]["labels"]

    assert labels["app.kubernetes.io/managed-by"] == "maskinporten-operator"
    assert labels[secret_bodies.CLIENT_LABEL] == OWNER.name
    assert labels[secret_bodies.ROLE_LABEL] == Role.WORKLOAD


def test_secret_body_never_carries_a_reloader_annotation() -> None:
    for rendered in (body(), body(owned=False)):
        annotations = rendered["metadata"]["annotations"]
        assert not [name for name in annotations if name.startswith("reloader.stakater.com/")]
        assert not [name for name in rendered["metadata"]["labels"] if "reloader" in name]


def test_secret_body_records_the_data_hash() -> None:
    rendered = body()

    assert rendered["metadata"]["annotations"][DATA_HASH_ANNOTATION] == data_hash(data())


def test_secret_body_records_issue_time_expiry_and_fingerprint() -> None:
    described = json.loads(body()["metadata"]["annotations"][TOKENS_ANNOTATION])

    assert described == {
        "": {
            "issuedAt": "2027-01-15T08:00:00Z",
            "expiresAt": "2027-01-15T09:00:00Z",
            "fingerprint": TOKEN.fingerprint,
        }
    }


def test_secret_body_annotations_never_hold_the_token() -> None:
    rendered = body()

    assert ACCESS_TOKEN not in str(rendered["metadata"])


def test_owned_secret_body_has_a_controller_owner_reference() -> None:
    references = body(owned=True)["metadata"]["ownerReferences"]

    assert references == [
        {
            "apiVersion": "maskinporten-operator.dev/v1alpha1",
            "kind": "MaskinportenClient",
            "name": OWNER.name,
            "uid": OWNER.uid,
            "controller": True,
        }
    ]


def test_unowned_secret_body_has_no_owner_reference() -> None:
    assert "ownerReferences" not in body(owned=False)["metadata"]


def test_is_owned_by_matches_on_the_owner_uid() -> None:
    assert secret_bodies.is_owned_by(body(), OWNER)
    assert not secret_bodies.is_owned_by(body(), Owner(name=OWNER.name, uid="another-uid"))
    assert not secret_bodies.is_owned_by(body(owned=False), OWNER)


# --- reading a token back -----------------------------------------------------------------------


def test_tokens_in_secret_round_trips_a_rendered_secret() -> None:
    found = tokens_in_secret(as_read_back(body()))

    assert found == {"": TOKEN}


def test_tokens_in_secret_are_empty_when_the_data_was_edited() -> None:
    edited = as_read_back(body())
    edited["data"]["MASKINPORTEN_ACCESS_TOKEN"] = b64("eyJ.forged.token")

    assert tokens_in_secret(edited) == {}


def test_tokens_in_secret_are_empty_when_a_data_key_was_added() -> None:
    edited = as_read_back(body())
    edited["data"]["EXTRA"] = b64("x")

    assert tokens_in_secret(edited) == {}


def test_tokens_in_secret_are_empty_when_the_data_was_emptied() -> None:
    emptied = as_read_back(body())
    emptied["data"] = {}

    assert tokens_in_secret(emptied) == {}


def test_tokens_in_secret_are_empty_when_annotations_are_missing() -> None:
    stripped = as_read_back(body())
    del stripped["metadata"]["annotations"]

    assert tokens_in_secret(stripped) == {}


def test_tokens_in_secret_are_empty_when_the_tokens_annotation_is_missing() -> None:
    stripped = as_read_back(body())
    del stripped["metadata"]["annotations"][TOKENS_ANNOTATION]

    assert tokens_in_secret(stripped) == {}


def test_tokens_in_secret_are_empty_when_an_annotation_is_not_a_timestamp() -> None:
    garbled = as_read_back(body())
    garbled["metadata"]["annotations"][TOKENS_ANNOTATION] = json.dumps(
        {"": {"issuedAt": "yesterday", "expiresAt": "tomorrow", "fingerprint": "f"}}
    )

    assert tokens_in_secret(garbled) == {}


def test_tokens_in_secret_are_empty_for_a_secret_without_metadata_or_data() -> None:
    assert tokens_in_secret({}) == {}


# --- whether a write is needed ------------------------------------------------------------------


def test_identical_content_does_not_differ() -> None:
    assert differs(as_read_back(body()), body()) is False


def test_unowned_identical_content_does_not_differ() -> None:
    assert differs(as_read_back(body(owned=False)), body(owned=False)) is False


def test_changed_data_differs() -> None:
    existing = as_read_back(body())
    existing["data"]["MASKINPORTEN_SCOPES"] = b64("test:read")

    assert differs(existing, body()) is True


def test_a_new_token_differs() -> None:
    newer = IssuedToken(ACCESS_TOKEN + "x", ISSUED_AT + 1800, ISSUED_AT + 5400, TOKEN.fingerprint)

    assert differs(as_read_back(body()), body(newer)) is True


def test_changed_label_differs() -> None:
    existing = as_read_back(body())
    existing["metadata"]["labels"][secret_bodies.CLIENT_LABEL] = "someone-else"

    assert differs(existing, body()) is True


def test_removed_labels_differ() -> None:
    existing = as_read_back(body())
    del existing["metadata"]["labels"]

    assert differs(existing, body()) is True


def test_changed_annotation_differs() -> None:
    existing = as_read_back(body())
    existing["metadata"]["annotations"][TOKENS_ANNOTATION] = "{}"

    assert differs(existing, body()) is True


def test_removed_annotations_differ() -> None:
    existing = as_read_back(body())
    del existing["metadata"]["annotations"]

    assert differs(existing, body()) is True


def test_changed_owner_differs() -> None:
    existing = as_read_back(body())
    existing["metadata"]["ownerReferences"][0]["uid"] = "previous-owner-uid"

    assert differs(existing, body()) is True


def test_missing_owner_differs_from_an_owned_body() -> None:
    assert differs(as_read_back(body(owned=False)), body(owned=True)) is True


def test_owner_reference_differs_from_an_unowned_body() -> None:
    assert differs(as_read_back(body(owned=True)), body(owned=False)) is True


def test_labels_and_annotations_added_by_others_do_not_differ() -> None:
    existing = as_read_back(body())
    existing["metadata"]["labels"]["cost-centre"] = "42"
    existing["metadata"]["annotations"]["example.com/note"] = "hi"

    assert differs(existing, body()) is False


# --- the token itself ---------------------------------------------------------------------------


def test_issued_token_repr_does_not_contain_the_token() -> None:
    text = repr(TOKEN)

    assert ACCESS_TOKEN not in text
    assert "access_token" not in text
    assert TOKEN.fingerprint in text


def test_fingerprint_is_short_and_depends_on_every_field() -> None:
    base = secret_bodies.fingerprint("client", "aud", "scope")

    assert len(base) == 32
    assert base != secret_bodies.fingerprint("client", "aud", "scope", "")
    assert base != secret_bodies.fingerprint("client", "audscope")
    assert base == secret_bodies.fingerprint("client", "aud", "scope")


def test_named_tokens_get_their_own_keys_in_upper_case() -> None:
    altinn = IssuedToken(ACCESS_TOKEN, ISSUED_AT, ISSUED_AT + 60, "f", name="altinn-systemuser")

    rendered = workload_data(
        tokens=[TOKEN, altinn],
        client_id="client",
        scopes=("test:read",),
        endpoints=ENDPOINTS,
        client_jwk=None,
    )

    assert rendered["MASKINPORTEN_ACCESS_TOKEN_ALTINN_SYSTEMUSER"] == ACCESS_TOKEN
    assert rendered["MASKINPORTEN_ACCESS_TOKEN_ALTINN_SYSTEMUSER_EXPIRES_AT"] == (
        "2027-01-15T08:01:00Z"
    )
    assert rendered["MASKINPORTEN_ACCESS_TOKEN"] == ACCESS_TOKEN


def test_tokens_in_secret_round_trips_several_named_tokens() -> None:
    first = IssuedToken(ACCESS_TOKEN, ISSUED_AT, ISSUED_AT + 60, "f1", name="one")
    second = IssuedToken(ACCESS_TOKEN + "2", ISSUED_AT, ISSUED_AT + 120, "f2", name="two")
    tokens = [first, second]
    data_ = workload_data(
        tokens=tokens, client_id="c", scopes=("a:b",), endpoints=ENDPOINTS, client_jwk=None
    )
    rendered = secret_body(
        name="n",
        namespace="ns",
        owner=OWNER,
        role=Role.WORKLOAD,
        data=data_,
        annotations={**token_annotations(tokens), DATA_HASH_ANNOTATION: data_hash(data_)},
        owned=True,
    )

    assert tokens_in_secret(as_read_back(rendered)) == {"one": first, "two": second}


def test_published_expiry_is_never_later_than_the_tokens_own() -> None:
    token = IssuedToken(ACCESS_TOKEN, ISSUED_AT + 0.6, ISSUED_AT + 0.6 + 599, "fp")

    data = secret_bodies.workload_data(
        tokens=[token], client_id="c", scopes=("s:a",), endpoints=ENDPOINTS, client_jwk=None
    )

    assert parse_time(data["MASKINPORTEN_ACCESS_TOKEN_EXPIRES_AT"]) <= token.expires_at
