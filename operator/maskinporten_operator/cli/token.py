"""``maskinporten-operator token``: one access token, from a local credential or the cluster."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from maskinporten_operator.cli.cluster import read_client
from maskinporten_operator.cli.common import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    CommandError,
    parse_object_ref,
    report,
    warn,
)
from maskinporten_operator.cli.inputs import (
    TokenTarget,
    ca_bundle,
    credential,
    read_properties,
    token_request,
)
from maskinporten_operator.credentials.keys import ClientKey
from maskinporten_operator.oauth.authserver import AuthorizationServerClient
from maskinporten_operator.oauth.grant import sign_client_assertion, sign_grant
from maskinporten_operator.oauth.server_model import TokenRequestError, TokenResponse
from maskinporten_operator.reasons import Reason

COMMAND = "token"
EPILOG = """\
Each setting comes from the first of: its flag, the --properties file, the --from-cluster
MaskinportenClient, the environment (MASKINPORTEN_CLIENT_ID, MASKINPORTEN_CLIENT_JWK (the private
JWK itself), MASKINPORTEN_SCOPES, MASKINPORTEN_ISSUER, MASKINPORTEN_TOKEN_ENDPOINT, as NAIS apps
have them). Passwords come from --password-file / --alias-password-file, else
MASKINPORTEN_KEY_PASSWORD / MASKINPORTEN_KEY_ALIAS_PASSWORD, else the properties file. Without a
token endpoint it is discovered from the issuer's metadata. HTTPS_PROXY is honoured. The CA
certificates in --ca-bundle are trusted besides the public ones; with --from-cluster,
MASKINPORTEN_OPERATOR_CA_BUNDLE when --ca-bundle is not given.

Properties files of Digdir's Java jwt-grant-generator work as they are: issuer= is the client
id, audience= the issuer, plus token.endpoint, scope, resource, consumer_org, keystore.file,
keystore.password, keystore.alias, keystore.alias.password and keystore.kid.

Output: the bare token (default), --header, or --json. Nothing else is written to stdout.

exit codes:
  0  the token was printed
  1  the authorization server refused the request (its error_description is printed)
  2  usage or input error (flags, files, keys, certificates, passwords, settings)
  3  the authorization server could not be reached, failed, or answered nonsense
  4  the Kubernetes API could not be reached or refused access (--from-cluster)
"""
HINTS = (
    ("MP-110", "the audience must be the issuer, with its trailing slash: "
     "https://test.maskinporten.no/ or https://maskinporten.no/"),
    ("MP-120", "test certificates work only at test.maskinporten.no and production ones only "
     "at maskinporten.no; the certificate must belong to the client's organisation"),
    ("MP-121", "the registered key has expired (keys live a year): register it on the client "
     "again to renew it"),
    ("MP-124", "the signature does not match: is the kid the one registered for this key?"),
    ("MP-130", "the grant's times are off: check this machine's clock"),
    ("MP-100", "check the client id, and that the key is registered on that client under its "
     "kid (--kid), or that the certificate belongs to the client's organisation"),
    ("MP-250", "the consumer organisation has not delegated this scope to yours in Altinn"),
    ("MP-20", "the client may not use this scope: add it to the client in Digdir's "
     "self-service portal, and check its spelling"),
    ("invalid_target", "the resource must be one the API owner registered for the scope"),
)  # fmt: skip


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="get an access token (replaces the Java jwt-grant-generator)",
        description="Get an access token from Maskinporten (JWT grant) or, with "
        "--client-credentials, from any OAuth 2.0 server that accepts private_key_jwt.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    credential = parser.add_argument_group("credential")
    source = credential.add_mutually_exclusive_group()
    source.add_argument("--jwk", type=Path, metavar="FILE", help="private JWK (JSON)")
    source.add_argument(
        "--pem",
        type=Path,
        metavar="FILE",
        help="PEM private key (PKCS#1 or PKCS#8, encrypted or not); certificates in the same "
        "file or in --cert make it a business certificate",
    )
    source.add_argument("--p12", type=Path, metavar="FILE", help="PKCS#12 file (.p12, .pfx)")
    source.add_argument("--jks", type=Path, metavar="FILE", help="Java keystore (with --alias)")
    source.add_argument(
        "--from-cluster",
        metavar="NAMESPACE/NAME",
        help="a MaskinportenClient's settings and key, read through the current kubeconfig "
        "(the issuer from MASKINPORTEN_OPERATOR_* settings or --issuer)",
    )
    credential.add_argument("--cert", type=Path, metavar="FILE", help="PEM chain for --pem")
    credential.add_argument("--alias", help="keystore entry (--jks, --p12)")
    credential.add_argument("--password-file", type=Path, metavar="FILE", help="key password")
    credential.add_argument(
        "--alias-password-file",
        type=Path,
        metavar="FILE",
        help="keystore entry password, if not the keystore's",
    )
    credential.add_argument(
        "--kid",
        help="key id registered on the client; with a certificate: sign with it, not x5c",
    )
    credential.add_argument(
        "--x5c", action="store_true", help="sign with the certificate chain (default with one)"
    )
    request = parser.add_argument_group("request")
    request.add_argument("--properties", type=Path, metavar="FILE", help="jwt-grant-generator file")
    request.add_argument("--client-id", metavar="ID")
    request.add_argument(
        "--scope", action="append", default=[], help="repeat, or separate with spaces"
    )
    request.add_argument(
        "--issuer",
        metavar="URL",
        help="test, prod, or an issuer URL (its metadata names the grant's audience)",
    )
    request.add_argument("--token-endpoint", metavar="URL")
    request.add_argument(
        "--resource", action="append", default=[], metavar="URL", help="repeat for several"
    )
    request.add_argument("--consumer-org", metavar="ORGNO", help="act for this organisation")
    request.add_argument(
        "--system-user-org", metavar="ORGNO", help="act as this organisation's Altinn system user"
    )
    request.add_argument(
        "--token", metavar="NAME", help="with --from-cluster: which of spec.tokens"
    )
    request.add_argument(
        "--client-credentials",
        action="store_true",
        help="OAuth 2.0 client credentials with private_key_jwt (RFC 7523 2.2) instead",
    )
    request.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    request.add_argument(
        "--ca-bundle",
        type=Path,
        metavar="FILE",
        help="PEM CA certificates to trust besides the public ones (a TLS-inspecting proxy, an "
        "issuer with a private CA); with --from-cluster MASKINPORTEN_OPERATOR_CA_BUNDLE if unset",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="the whole response and the token's claims"
    )
    output.add_argument("--header", action="store_true", help="Authorization: Bearer <token>")
    parser.set_defaults(main=main)


def main(args: argparse.Namespace) -> int:
    try:
        properties = read_properties(args.properties)
        for message in properties.warnings:
            warn(COMMAND, message)
        cluster = read_client(*parse_object_ref(args.from_cluster)) if args.from_cluster else None
        key = credential(args, properties, cluster, os.environ)
        request = token_request(args, properties, cluster, os.environ)
        trusted = ca_bundle(args, os.environ)
        response = asyncio.run(_fetch(request, key, args.timeout, trusted))
    except CommandError as error:
        return report(COMMAND, error)
    print(_output(response, args))
    return EXIT_OK


async def _fetch(
    request: TokenTarget, key: ClientKey, timeout_seconds: float, trusted: str | None
) -> TokenResponse:
    """The grant's audience is the issuer the server's metadata declares, as the operator sends
    it, however the issuer was spelled here; ``--token-endpoint`` only says where to send it."""
    auth = AuthorizationServerClient(timeout_seconds=timeout_seconds, ca_bundle=trusted)
    try:
        metadata = await auth.metadata(request.issuer)
        endpoint = request.token_endpoint or metadata.token_endpoint
        now = int(time.time())
        if request.claims is None:
            assertion = sign_client_assertion(request.client_id, metadata.issuer, key, now=now)
            return await auth.request_client_credentials_token(endpoint, assertion, request.scopes)
        claims = replace(request.claims, audience=metadata.issuer)
        return await auth.request_token(endpoint, sign_grant(claims, key, now=now))
    except TokenRequestError as error:
        rejected = error.reason is Reason.TOKEN_REQUEST_REJECTED
        raise CommandError(
            str(error),
            exit_code=EXIT_REFUSED if rejected else EXIT_UNREACHABLE,
            hint=_hint(error),
        ) from None
    finally:
        await auth.aclose()


def _hint(error: TokenRequestError) -> str:
    if error.reason is Reason.SERVER_UNREACHABLE and "CERTIFICATE_VERIFY_FAILED" in str(error):
        return (
            "the server's certificate is not trusted: for a private CA or a TLS-inspecting "
            "proxy, give its CA certificates with --ca-bundle FILE"
        )
    if error.reason is Reason.SERVER_UNREACHABLE:
        return "check the URL and the network; behind a proxy, set HTTPS_PROXY"
    text = f"{error.error or ''} {error.description or ''}"
    return next((hint for marker, hint in HINTS if marker in text), "")


def _output(response: TokenResponse, args: argparse.Namespace) -> str:
    if args.header:
        return f"Authorization: Bearer {response.access_token}"
    if args.json:
        document = {"token": dict(response.document), "claims": _claims(response.access_token)}
        return json.dumps(document, indent=2)
    return response.access_token


def _claims(token: str) -> dict[str, Any] | None:
    """The token's payload if it is a JWT (decoded for reading, not verified), else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None
