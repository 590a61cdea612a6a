"""A client's keys: the documented rules on each key and on the set, and their one-year expiry."""

from __future__ import annotations

import pytest
from joserfc.jwk import RSAKey

from maskinporten_testbed.selfservice import KEY_LIFETIME_SECONDS, SelfServiceStandin
from maskinporten_testbed.standin import MaskinportenStandin
from maskinporten_testbed.testca import BusinessCertificate

from .helpers import YEAR, Api, assert_refused, public_jwk

DAY = 24 * 3600


@pytest.fixture
async def client_id(api: Api) -> str:
    created: str = (await api.create())["client_id"]
    return created


def kids(document: dict[str, object]) -> list[object]:
    keys = document["keys"]
    assert isinstance(keys, list)
    return [key["kid"] for key in keys]


async def test_a_new_client_has_no_keys(api: Api, client_id: str) -> None:
    response = await api.call("GET", f"clients/{client_id}/jwks")

    assert response.status_code == 200
    assert response.json()["keys"] == []


async def test_posted_keys_are_shown_with_their_public_members_and_an_expiry(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    jwk = public_jwk(keys[0], "team-weather-1")

    posted = await api.post_keys(client_id, jwk)

    assert posted.status_code == 200, posted.text
    shown = (await api.call("GET", f"clients/{client_id}/jwks")).json()
    assert shown == posted.json()
    (key,) = shown["keys"]
    assert {k: v for k, v in key.items() if k != "exp"} == jwk
    assert {"created", "last_updated"} <= shown.keys()


async def test_a_key_expires_one_year_after_it_was_posted(
    api: Api, client_id: str, keys: list[RSAKey], standin: MaskinportenStandin
) -> None:
    posted_at = standin.clock.now()

    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    (key,) = (await api.call("GET", f"clients/{client_id}/jwks")).json()["keys"]
    assert KEY_LIFETIME_SECONDS == YEAR
    assert key["exp"] == int(posted_at + YEAR)


async def test_a_key_posted_with_the_registration_clock_moved_back_expires_that_much_sooner(
    api: Api,
    client_id: str,
    keys: list[RSAKey],
    selfservice: SelfServiceStandin,
    standin: MaskinportenStandin,
) -> None:
    selfservice.set_registration_clock_offset(-340 * DAY)

    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    (key,) = (await api.call("GET", f"clients/{client_id}/jwks")).json()["keys"]
    assert key["exp"] == int(standin.clock.now() + YEAR - 340 * DAY)


async def test_posting_a_key_again_renews_its_expiry(
    api: Api, client_id: str, keys: list[RSAKey], standin: MaskinportenStandin
) -> None:
    jwk = public_jwk(keys[0], "k1")
    first = (await api.post_keys(client_id, jwk)).json()["keys"][0]["exp"]
    standin.set_clock_offset(100 * 24 * 3600)
    await api.log_in()

    again = (await api.post_keys(client_id, jwk)).json()["keys"][0]["exp"]

    assert again - first == 100 * 24 * 3600


async def test_posting_replaces_the_whole_set(api: Api, client_id: str, keys: list[RSAKey]) -> None:
    await api.post_keys(client_id, public_jwk(keys[0], "k1"), public_jwk(keys[1], "k2"))

    await api.post_keys(client_id, public_jwk(keys[2], "k3"))

    assert kids((await api.call("GET", f"clients/{client_id}/jwks")).json()) == ["k3"]


async def test_posting_an_empty_set_is_refused_and_the_set_kept(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    response = await api.post_keys(client_id)

    assert_refused(response, 400, "invalid_client_metadata", "DELETE")
    assert kids((await api.call("GET", f"clients/{client_id}/jwks")).json()) == ["k1"]


async def test_deleting_the_key_set_removes_every_key(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    await api.post_keys(client_id, public_jwk(keys[0], "k1"))

    response = await api.call("DELETE", f"clients/{client_id}/jwks")

    assert response.status_code == 204
    assert kids((await api.call("GET", f"clients/{client_id}/jwks")).json()) == []


async def test_five_keys_are_accepted(api: Api, client_id: str, keys: list[RSAKey]) -> None:
    response = await api.post_keys(
        client_id, *(public_jwk(k, f"k{i}") for i, k in enumerate(keys[:5]))
    )

    assert response.status_code == 200, response.text
    assert len(response.json()["keys"]) == 5


async def test_six_keys_are_refused_and_the_set_is_kept(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    await api.post_keys(client_id, public_jwk(keys[0], "kept"))

    response = await api.post_keys(client_id, *(public_jwk(k, f"k{i}") for i, k in enumerate(keys)))

    assert_refused(response, 400, "invalid_client_metadata", "at most 5")
    assert kids((await api.call("GET", f"clients/{client_id}/jwks")).json()) == ["kept"]


@pytest.mark.parametrize("member", ["kty", "alg", "use", "e", "n", "kid"])
async def test_a_key_without_a_required_member_is_refused(
    api: Api, client_id: str, keys: list[RSAKey], member: str
) -> None:
    jwk = public_jwk(keys[0], "k1")
    del jwk[member]

    response = await api.post_keys(client_id, jwk)

    assert_refused(response, 400, "invalid_client_metadata", "lacks", member)


@pytest.mark.parametrize(("member", "value"), [("n", 12345), ("kid", 1), ("e", None)])
async def test_a_key_member_that_is_not_a_string_is_refused(
    api: Api, client_id: str, keys: list[RSAKey], member: str, value: object
) -> None:
    jwk = {**public_jwk(keys[0], "k1"), member: value}

    response = await api.post_keys(client_id, jwk)

    assert_refused(response, 400, "invalid_client_metadata", "must be strings")


async def test_a_key_of_another_size_than_rsa_2048_is_refused(api: Api, client_id: str) -> None:
    big = RSAKey.generate_key(3072)

    response = await api.post_keys(client_id, public_jwk(big, "big"))

    assert_refused(response, 400, "invalid_client_metadata", "RSA 3072", "RSA 2048")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
async def test_an_algorithm_other_than_rs256_is_refused(
    api: Api, client_id: str, keys: list[RSAKey], alg: str
) -> None:
    response = await api.post_keys(client_id, public_jwk(keys[0], "k1", alg=alg))

    assert_refused(response, 400, "invalid_client_metadata", "RS256")


async def test_a_key_type_other_than_rsa_is_refused(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    response = await api.post_keys(client_id, public_jwk(keys[0], "k1", kty="EC"))

    assert_refused(response, 400, "invalid_client_metadata", "RSA")


async def test_a_key_not_for_signatures_is_refused(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    response = await api.post_keys(client_id, public_jwk(keys[0], "k1", use="enc"))

    assert_refused(response, 400, "invalid_client_metadata", "use must be sig")


@pytest.mark.parametrize("kid", ["with space", "slash/kid", "æøå", ""])
async def test_a_kid_with_other_characters_than_letters_digits_and_dot_dash_underscore_is_refused(
    api: Api, client_id: str, keys: list[RSAKey], kid: str
) -> None:
    response = await api.post_keys(client_id, public_jwk(keys[0], kid))

    assert_refused(response, 400, "invalid_client_metadata", "kid may hold only")


async def test_a_kid_of_letters_digits_dots_dashes_and_underscores_is_accepted(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    response = await api.post_keys(client_id, public_jwk(keys[0], "Org_123456789.team-weather.2"))

    assert response.status_code == 200, response.text


async def test_a_kid_used_on_a_client_of_another_organisation_is_refused(
    api: Api, other_api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    theirs = (await other_api.create())["client_id"]
    await other_api.post_keys(theirs, public_jwk(keys[0], "popular"))

    response = await api.post_keys(client_id, public_jwk(keys[1], "popular"))

    assert_refused(response, 400, "invalid_client_metadata", "popular", "unique")
    assert theirs not in response.json()["error_description"]


async def test_a_kid_used_on_another_client_of_the_same_organisation_is_refused(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    other = (await api.create())["client_id"]
    await api.post_keys(other, public_jwk(keys[0], "shared"))

    response = await api.post_keys(client_id, public_jwk(keys[0], "shared"))

    assert_refused(response, 400, "invalid_client_metadata", "shared", "unique")


async def test_the_kid_of_a_deleted_client_is_free_again(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    other = (await api.create())["client_id"]
    await api.post_keys(other, public_jwk(keys[0], "reused"))
    await api.call("DELETE", f"clients/{other}")

    response = await api.post_keys(client_id, public_jwk(keys[0], "reused"))

    assert response.status_code == 200, response.text


async def test_a_kid_repeated_within_the_set_is_refused(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    response = await api.post_keys(
        client_id, public_jwk(keys[0], "twice"), public_jwk(keys[1], "twice")
    )

    assert_refused(response, 400, "invalid_client_metadata", "twice", "repeated")


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi"])
async def test_a_key_with_private_members_is_refused_without_echoing_them(
    api: Api, client_id: str, keys: list[RSAKey], member: str
) -> None:
    private = {**keys[0].as_dict(private=True), "kid": "k1", "alg": "RS256", "use": "sig"}
    jwk = {**public_jwk(keys[0], "k1"), member: private[member]}

    response = await api.post_keys(client_id, jwk)

    assert_refused(response, 400, "invalid_client_metadata", "private", member)
    assert private[member] not in response.text


async def test_an_exp_sent_with_a_key_is_ignored_for_the_servers_own(
    api: Api, client_id: str, keys: list[RSAKey], standin: MaskinportenStandin
) -> None:
    response = await api.post_keys(client_id, public_jwk(keys[0], "k1", exp=1))

    assert response.json()["keys"][0]["exp"] > standin.clock.now()


async def test_a_key_locked_to_its_certificate_keeps_its_x5c(
    api: Api, client_id: str, business_certificate: BusinessCertificate
) -> None:
    certified = RSAKey.import_key(business_certificate.private_key_pem())
    jwk = public_jwk(certified, "certified", x5c=business_certificate.x5c())

    response = await api.post_keys(client_id, jwk)

    assert response.status_code == 200, response.text
    assert response.json()["keys"][0]["x5c"] == business_certificate.x5c()


async def test_an_x5c_for_another_key_is_refused(
    api: Api, client_id: str, keys: list[RSAKey], business_certificate: BusinessCertificate
) -> None:
    response = await api.post_keys(
        client_id, public_jwk(keys[0], "k1", x5c=business_certificate.x5c())
    )

    assert_refused(response, 400, "invalid_client_metadata", "x5c", "not for this key")


async def test_a_body_that_is_not_a_jwks_is_refused(
    api: Api, client_id: str, keys: list[RSAKey]
) -> None:
    response = await api.call("POST", f"clients/{client_id}/jwks", [public_jwk(keys[0], "k1")])

    assert_refused(response, 400, "invalid_request", "JWKS")
