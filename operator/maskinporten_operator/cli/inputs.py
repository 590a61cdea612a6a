"""What ``token`` works with: the credential and the request, from flags, a properties file,
a MaskinportenClient in the cluster and the environment (first found wins)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from maskinporten_operator.api import GrantType, KeyMode
from maskinporten_operator.cli.cluster import ClusterClient
from maskinporten_operator.cli.common import CommandError, read_file, read_password_file, warn
from maskinporten_operator.cli.properties import GrantProperties, grant_properties
from maskinporten_operator.credentials.certificates import expiry_warning
from maskinporten_operator.credentials.jwk import load_jwk
from maskinporten_operator.credentials.keys import ClientKey, InvalidKeyError, PasswordError
from maskinporten_operator.credentials.pem import load_pem
from maskinporten_operator.credentials.pkcs12 import load_keystore, load_pkcs12
from maskinporten_operator.oauth.grant import GrantClaims, authorization_details_in
from maskinporten_operator.settings import (
    ENV_PREFIX,
    KNOWN_ISSUERS,
    InvalidSettingsError,
    readable_ca_bundle,
    settings_from_env,
)

COMMAND = "token"
ISSUER_ALIASES = {environment.value: issuer for environment, issuer in KNOWN_ISSUERS.items()}


@dataclass(frozen=True)
class TokenTarget:
    """What to ask for. ``issuer`` is where the server's metadata is found; the grant's
    audience is the issuer that metadata declares (``claims.audience`` is replaced by it)."""

    client_id: str
    scopes: tuple[str, ...]
    issuer: str
    token_endpoint: str | None
    claims: GrantClaims | None
    """None for generic client credentials."""


def read_properties(path: Path | None) -> GrantProperties:
    if path is None:
        return GrantProperties()
    text = read_file(path, "properties file")
    try:
        decoded = text.decode()
    except UnicodeDecodeError:
        decoded = text.decode("latin-1")  # what java.util.Properties reads
    return grant_properties(decoded, source=str(path))


def ca_bundle(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The PEM file of CA certificates to trust besides the public ones: ``--ca-bundle``, else
    with ``--from-cluster`` the operator's ``MASKINPORTEN_OPERATOR_CA_BUNDLE`` (as the issuer comes
    from its settings there), else none. Refused unless it is a readable file of certificates."""
    setting = f"{ENV_PREFIX}CA_BUNDLE"
    if args.ca_bundle is not None:
        path, source = str(args.ca_bundle), "--ca-bundle"
    elif args.from_cluster and environ.get(setting):
        path, source = environ[setting], setting
    else:
        return None
    try:
        return readable_ca_bundle(path)
    except ValueError as error:
        raise CommandError(
            f"{source}: {error}",
            hint="give a PEM file of the CA certificates to trust (-----BEGIN CERTIFICATE-----)",
        ) from None


def _refuse_flags_that_do_not_go_together(
    args: argparse.Namespace, cluster: ClusterClient | None
) -> None:
    if args.cert and not args.pem:
        raise CommandError("--cert goes with --pem")
    if cluster is not None and (args.kid or args.x5c or args.client_credentials):
        raise CommandError(
            "--kid, --x5c and --client-credentials do not apply to --from-cluster: its spec "
            "decides (key.mode, grantType)"
        )


def credential(
    args: argparse.Namespace,
    properties: GrantProperties,
    cluster: ClusterClient | None,
    environ: Mapping[str, str],
) -> ClientKey:
    _refuse_flags_that_do_not_go_together(args, cluster)
    now = datetime.now(UTC)
    mode = KeyMode.CERTIFICATE if args.x5c else KeyMode.AUTO
    kid = args.kid or properties.key_id
    password = _password(
        args.password_file, environ.get("MASKINPORTEN_KEY_PASSWORD"), properties.keystore_password
    )
    keystore = args.jks or _keystore_file(properties, args.properties)
    try:
        if args.jwk:
            text = read_file(args.jwk, "JWK file").decode(errors="replace")
            key = load_jwk(text, source=f"JWK file {args.jwk}", key_id=kid, mode=mode)
        elif args.pem:
            key = load_pem(
                read_file(args.pem, "PEM file"),
                source=f"PEM file {args.pem}",
                now=now,
                password=password,
                chain=read_file(args.cert, "certificate file") if args.cert else b"",
                key_id=kid,
                mode=mode,
            )
        elif args.p12:
            key = load_pkcs12(
                read_file(args.p12, "PKCS#12 file"),
                source=f"PKCS#12 file {args.p12}",
                now=now,
                password=password,
                alias=args.alias,
                key_id=kid,
                mode=mode,
            )
        elif keystore:
            key = load_keystore(
                read_file(keystore, "keystore"),
                source=f"keystore {keystore}",
                now=now,
                password=password,
                alias=args.alias or properties.keystore_alias,
                alias_password=_password(
                    args.alias_password_file,
                    environ.get("MASKINPORTEN_KEY_ALIAS_PASSWORD"),
                    properties.keystore_alias_password,
                ),
                key_id=kid,
                mode=mode,
            )
        elif cluster is not None:
            key = cluster.key
        elif environ.get("MASKINPORTEN_CLIENT_JWK"):
            text = environ["MASKINPORTEN_CLIENT_JWK"]
            key = load_jwk(text, source="$MASKINPORTEN_CLIENT_JWK", key_id=kid, mode=mode)
        else:
            raise CommandError(
                "no credential to sign with",
                hint="use --jwk, --pem, --p12, --jks, --properties or --from-cluster, or set "
                "MASKINPORTEN_CLIENT_JWK",
            )
    except PasswordError as error:
        raise CommandError(
            str(error), hint="put it in a file for --password-file, or in MASKINPORTEN_KEY_PASSWORD"
        ) from None
    except InvalidKeyError as error:
        raise CommandError(str(error)) from None
    warning = expiry_warning(key, now=now)
    if warning:
        warn(COMMAND, warning)
    return key


def _password(path: Path | None, environment: str | None, properties: str | None) -> bytes | None:
    if path is not None:
        return read_password_file(path)
    value = environment or properties
    return value.encode() if value else None


def _keystore_file(properties: GrantProperties, path: Path | None) -> Path | None:
    """``keystore.file`` as Java finds it (from the working directory), else beside the file."""
    if properties.keystore_file is None or path is None:
        return None
    keystore = Path(properties.keystore_file)
    if keystore.is_absolute() or keystore.exists():
        return keystore
    return path.parent / keystore


def token_request(
    args: argparse.Namespace,
    properties: GrantProperties,
    cluster: ClusterClient | None,
    environ: Mapping[str, str],
) -> TokenTarget:
    cluster_scopes, cluster_resource = _cluster_token(cluster, args.token)
    client_id = _first(
        args.client_id,
        properties.client_id,
        cluster.client_id if cluster else None,
        environ.get("MASKINPORTEN_CLIENT_ID"),
    )
    if not client_id:
        raise CommandError(
            "no client id",
            hint="give --client-id, issuer= in a properties file, or MASKINPORTEN_CLIENT_ID",
        )
    scopes = (
        tuple(" ".join(args.scope).split())
        or properties.scopes
        or cluster_scopes
        or tuple(environ.get("MASKINPORTEN_SCOPES", "").split())
    )
    issuer = _issuer(args, properties, cluster, environ)
    token_endpoint = _first(
        args.token_endpoint, properties.token_endpoint, environ.get("MASKINPORTEN_TOKEN_ENDPOINT")
    )
    if args.client_credentials or (
        cluster is not None and cluster.spec.grant_type is GrantType.CLIENT_CREDENTIALS
    ):
        if args.resource or args.consumer_org or args.system_user_org:
            raise CommandError(
                "--resource, --consumer-org and --system-user-org are Maskinporten grant "
                "claims, not part of --client-credentials"
            )
        return TokenTarget(client_id, scopes, issuer, token_endpoint, None)
    if not scopes:
        raise CommandError(
            "no scope: Maskinporten needs at least one",
            hint="give --scope, scope= in a properties file, or MASKINPORTEN_SCOPES",
        )
    resources = tuple(args.resource)
    try:
        claims = GrantClaims(
            client_id=client_id,
            audience=issuer,
            scopes=scopes,
            resource=(resources[0] if len(resources) == 1 else resources)
            or properties.resource
            or cluster_resource,
            consumer_org=_first(
                args.consumer_org,
                properties.consumer_org,
                cluster.spec.consumer_org if cluster else None,
            ),
            system_user_org=_first(
                args.system_user_org, cluster.spec.system_user_org if cluster else None
            ),
            authorization_details=authorization_details_in(
                cluster.spec.authorization_details if cluster else None
            ),
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    return TokenTarget(client_id, scopes, issuer, token_endpoint, claims)


def _cluster_token(
    cluster: ClusterClient | None, name: str | None
) -> tuple[tuple[str, ...], str | tuple[str, ...] | None]:
    if cluster is None:
        if name is not None:
            raise CommandError("--token goes with --from-cluster")
        return (), None
    requests = cluster.spec.token_requests()
    chosen = next((r for r in requests if r.name == (name or requests[0].name)), None)
    if chosen is None:
        names = ", ".join(r.name for r in requests if r.name) or "none"
        raise CommandError(f"the MaskinportenClient has no token '{name}' (tokens: {names})")
    return chosen.scopes, chosen.resource


def _issuer(
    args: argparse.Namespace,
    properties: GrantProperties,
    cluster: ClusterClient | None,
    environ: Mapping[str, str],
) -> str:
    issuer = _first(args.issuer, properties.audience)
    if not issuer and cluster is not None:
        try:
            issuer = settings_from_env(environ).issuer_for(cluster.spec.issuer)
        except (InvalidSettingsError, ValueError) as error:
            raise CommandError(f"cannot tell the issuer: {error}") from None
    issuer = issuer or environ.get("MASKINPORTEN_ISSUER")
    if not issuer:
        raise CommandError(
            "no issuer",
            hint="give --issuer test, --issuer prod or --issuer URL, or set MASKINPORTEN_ISSUER",
        )
    return ISSUER_ALIASES.get(issuer, issuer)


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)
