"""``maskinporten-operator keygen --out FILE``: a private JWK only its owner can read, and the
public key printed as the self-service portal takes it."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import rsa

from maskinporten_testbed.standin import Client, RegisteredKey, StandinThread

from .helpers import ORG, SCOPE, issued, run, token_args


def keygen(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run("keygen", "--out", path, *args)


def test_private_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "key.json"

    assert keygen(path).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_public_jwk_is_printed_inside_brackets_then_as_pem(tmp_path: Path) -> None:
    result = keygen(tmp_path / "key.json")
    first, pem = result.stdout.split("\n", 1)

    jwks = json.loads(first)
    assert [set(jwk) for jwk in jwks] == [{"kty", "e", "n", "kid", "alg", "use"}]
    public = ser.load_pem_public_key(pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048


def test_nothing_private_is_printed(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    result = keygen(path)

    private = json.loads(path.read_text())
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        assert private[member] not in result.stdout + result.stderr


def test_chosen_kid_is_used(tmp_path: Path) -> None:
    path = tmp_path / "key.json"

    result = keygen(path, "--kid", "billing-2027")

    assert json.loads(path.read_text())["kid"] == "billing-2027"
    assert json.loads(result.stdout.split("\n", 1)[0])[0]["kid"] == "billing-2027"


def test_printed_public_key_registers_and_the_file_gets_a_token(
    standin: StandinThread, tmp_path: Path
) -> None:
    path = tmp_path / "key.json"
    [public] = json.loads(keygen(path).stdout.split("\n", 1)[0])
    standin.register_client(
        Client(
            client_id="new-client",
            org=ORG,
            scopes=frozenset({SCOPE}),
            keys=(RegisteredKey(public),),
        )
    )

    claims = issued(run(*token_args(standin, "new-client"), "--jwk", path))

    assert claims["client_id"] == "new-client"


def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text("precious")

    result = keygen(path)

    assert result.returncode == 2
    assert f"error: {path} exists" in result.stderr
    assert "never overwritten" in result.stderr
    assert result.stdout == ""
    assert path.read_text() == "precious"


def test_kid_with_other_characters_is_refused(tmp_path: Path) -> None:
    result = keygen(tmp_path / "key.json", "--kid", "billing 2027")

    assert result.returncode == 2
    assert not (tmp_path / "key.json").exists()


def test_a_target_is_required() -> None:
    assert run("keygen").returncode == 2
