"""Grant variants reach the stand-in, which rejects unknown claims, and it grants them."""

from __future__ import annotations

from pathlib import Path

from maskinporten_testbed.standin import StandinThread

from .helpers import (
    OTHER_ORG,
    OTHER_RESOURCE,
    RESOURCE,
    SCOPE,
    SYSTEM_USER_ORG,
    Files,
    issued,
    run,
    token_args,
)


def party(org: str) -> dict[str, str]:
    return {"authority": "iso6523-actorid-upis", "ID": f"0192:{org}"}


def test_one_resource_restricts_the_audience(standin: StandinThread, files: Files) -> None:
    claims = issued(run(*token_args(standin), "--jwk", files.jwk, "--resource", RESOURCE))

    assert claims["aud"] == RESOURCE


def test_several_resources_are_granted_together(standin: StandinThread, files: Files) -> None:
    result = run(
        *token_args(standin),
        "--jwk",
        files.jwk,
        "--resource",
        RESOURCE,
        "--resource",
        OTHER_RESOURCE,
    )

    assert issued(result)["aud"] == [RESOURCE, OTHER_RESOURCE]


def test_consumer_org_acts_for_the_delegating_organisation(
    standin: StandinThread, files: Files
) -> None:
    claims = issued(run(*token_args(standin), "--jwk", files.jwk, "--consumer-org", OTHER_ORG))

    assert claims["consumer"] == party(OTHER_ORG)


def test_system_user_goes_as_authorization_details(standin: StandinThread, files: Files) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk, "--system-user-org", SYSTEM_USER_ORG)

    assert issued(result)["authorization_details"] == [
        {"type": "urn:altinn:systemuser", "systemuser_org": party(SYSTEM_USER_ORG)}
    ]


def test_resource_and_consumer_org_from_a_properties_file(
    standin: StandinThread, files: Files, tmp_path: Path
) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text(f"resource={RESOURCE}\nconsumer_org={OTHER_ORG}\nscope={SCOPE}\n")

    claims = issued(run(*token_args(standin), "--jwk", files.jwk, "--properties", properties))

    assert (claims["aud"], claims["consumer"]) == (RESOURCE, party(OTHER_ORG))


def test_resource_the_client_may_not_use_is_refused_with_the_servers_reason(
    standin: StandinThread, files: Files
) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk, "--resource", "https://nope.example/")

    assert result.returncode == 1
    assert "resource not allowed for client: https://nope.example/" in result.stderr
    assert "hint: the resource must be one the API owner registered" in result.stderr


def test_malformed_organisation_number_is_a_usage_error(
    standin: StandinThread, files: Files
) -> None:
    result = run(*token_args(standin), "--jwk", files.jwk, "--consumer-org", "0192:987654321")

    assert result.returncode == 2
    assert "consumer_org must be a 9-digit organisation number" in result.stderr
    assert standin.request_count() == 0
