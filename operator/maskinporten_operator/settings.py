"""Operator-wide settings, read from ``MASKINPORTEN_OPERATOR_*`` environment variables."""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from maskinporten_operator.api import describe_validation_error

ENV_PREFIX = "MASKINPORTEN_OPERATOR_"


class Environment(StrEnum):
    TEST = "test"
    PROD = "prod"
    CUSTOM = "custom"


KNOWN_ISSUERS = {
    Environment.TEST: "https://test.maskinporten.no/",
    Environment.PROD: "https://maskinporten.no/",
}


ALTINN_EXCHANGE_URLS = {
    Environment.TEST: "https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten",
    Environment.PROD: "https://platform.altinn.no/authentication/api/v1/exchange/maskinporten",
}


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(item for item in value.replace(",", " ").split() if item)
    return value


def with_trailing_slash(value: object) -> object:
    if isinstance(value, str) and value and not value.endswith("/"):
        return value + "/"
    return value


def readable_ca_bundle(path: str) -> str:
    """``path`` if it is a readable file holding at least one PEM certificate, checked by loading
    it as the HTTP client will; raises ``ValueError`` saying what is wrong otherwise."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except ssl.SSLError:
        raise ValueError(f"{path} holds no PEM certificate") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror}") from None
    return path


class ScopeRule(NamedTuple):
    """Namespaces matching ``namespace`` (a glob) may request scopes matching ``scopes``."""

    namespace: str
    scopes: tuple[str, ...]


def parse_scope_policy(value: object) -> object:
    """``team-a=skatteetaten:*,nav:*;team-*=digdir:*`` as rules; other values as they are."""
    if not isinstance(value, str):
        return value
    rules = []
    for entry in (part.strip() for part in value.split(";")):
        if not entry:
            continue
        namespace, equals, scopes = entry.partition("=")
        globs = tuple(glob for glob in scopes.replace(",", " ").split() if glob)
        if not equals or not namespace.strip() or not globs:
            raise ValueError(
                f"'{entry}' is not <namespace glob>=<scope glob>[,<scope glob>...]; rules are "
                "separated by ';', e.g. team-a=skatteetaten:*,nav:*;team-*=digdir:*"
            )
        rules.append(ScopeRule(namespace.strip(), globs))
    return tuple(rules)


ScopePolicy = Annotated[tuple[ScopeRule, ...], BeforeValidator(parse_scope_policy)]
CaBundlePath = Annotated[str, AfterValidator(readable_ca_bundle)]
IssuerUrl = Annotated[
    str, BeforeValidator(with_trailing_slash), Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
]
IssuerList = Annotated[tuple[IssuerUrl, ...], BeforeValidator(_split_list)]
NameList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]


class Settings(BaseModel):
    """Every field maps to ``MASKINPORTEN_OPERATOR_<FIELD NAME IN UPPER CASE>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment = Environment.TEST
    issuer: IssuerUrl | None = None
    allowed_issuers: IssuerList = ()
    namespaces: NameList = ()
    refresh_at_lifetime_percent: int = Field(default=50, ge=10, le=90)
    refresh_before_expiry_seconds: int = Field(default=300, ge=0, le=86_400)
    retry_base_seconds: float = Field(default=15.0, gt=0, le=3600)
    retry_max_seconds: float = Field(default=900.0, gt=0, le=86_400)
    token_request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_concurrent_token_requests: int = Field(default=16, ge=1, le=1000)
    kubernetes_api_concurrency: int = Field(default=8, ge=1, le=100)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_format: LogFormat = LogFormat.TEXT
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    altinn_exchange_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    ca_bundle: CaBundlePath | None = None
    """Path of a PEM file of CA certificates trusted, in addition to the public CAs, for the
    https servers the operator calls (an issuer whose certificate comes from a private CA); pass
    it to ``AuthorizationServerClient(ca_bundle=...)``."""
    self_service_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """Digdir's self-service API; by default the environment's (none for ``custom``)."""
    self_service_credentials: str | None = Field(
        default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"
    )
    """``namespace/name`` of the Secret with the self-service admin client's business
    certificate and its ``clientId``; without it, only clients with a clientId work."""
    cluster_name: str = Field(
        default="default", min_length=1, max_length=63, pattern=r"^[A-Za-z0-9._-]+$"
    )
    """Part of each created client's description, which is how the operator finds it again."""
    prompt_pods: bool = True
    """After each new token, annotate the pods labelled for the client so that their kubelet
    copies it at once; False: no pod watch, no pod patch (the kubelet's own sync, ~90 s)."""
    managed_scope_policy: ScopePolicy = ()
    """Which namespaces may request which scopes for managed clients; empty allows all."""

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError(
                f"{ENV_PREFIX}RETRY_MAX_SECONDS must not be below {ENV_PREFIX}RETRY_BASE_SECONDS"
            )
        if self.environment is Environment.CUSTOM and self.issuer is None:
            raise ValueError(f"set {ENV_PREFIX}ISSUER when {ENV_PREFIX}ENVIRONMENT is custom")
        if self.environment is not Environment.CUSTOM and self.issuer is not None:
            raise ValueError(
                f"{ENV_PREFIX}ISSUER is only used with {ENV_PREFIX}ENVIRONMENT=custom "
                f"({self.environment.value} uses {KNOWN_ISSUERS[self.environment]})"
            )
        if (
            self.self_service_credentials is not None
            and self.environment is Environment.CUSTOM
            and self.self_service_url is None
        ):
            raise ValueError(
                f"set {ENV_PREFIX}SELF_SERVICE_URL when {ENV_PREFIX}ENVIRONMENT is custom and "
                f"{ENV_PREFIX}SELF_SERVICE_CREDENTIALS is set"
            )
        return self

    def scopes_refused(self, namespace: str, scopes: tuple[str, ...]) -> list[str]:
        """The ``scopes`` a managed client in ``namespace`` may not request under
        ``managed_scope_policy`` (none when the policy is empty)."""
        if not self.managed_scope_policy:
            return []
        allowed = [
            glob
            for rule in self.managed_scope_policy
            if fnmatchcase(namespace, rule.namespace)
            for glob in rule.scopes
        ]
        return [s for s in scopes if not any(fnmatchcase(s, glob) for glob in allowed)]

    @property
    def default_issuer(self) -> str:
        return self.issuer or KNOWN_ISSUERS[self.environment]

    @property
    def altinn_exchange(self) -> str | None:
        """Altinn's token exchange endpoint: the setting, else Altinn's for the environment."""
        return self.altinn_exchange_url or ALTINN_EXCHANGE_URLS.get(self.environment)

    def warnings(self) -> list[str]:
        """What to log at start-up: one message per issuer (the default and each allowed one) and
        Altinn exchange reached over plain http, where grants and tokens travel unencrypted.
        Such URLs are accepted nonetheless, for local stand-ins and tests."""
        tokens = "grants and tokens"
        reached: list[tuple[str, str | None, str]] = [
            (f"{ENV_PREFIX}ISSUER", self.issuer, tokens),
            *((f"{ENV_PREFIX}ALLOWED_ISSUERS entry", url, tokens) for url in self.allowed_issuers),
            (f"{ENV_PREFIX}ALTINN_EXCHANGE_URL", self.altinn_exchange_url, "Maskinporten tokens"),
            (f"{ENV_PREFIX}SELF_SERVICE_URL", self.self_service_url, "admin tokens"),
        ]
        return [
            f"{setting} {url} is plain http: {what} sent to it travel unencrypted; use https "
            f"(for a server with a private CA, set {ENV_PREFIX}CA_BUNDLE)"
            for setting, url, what in reached
            if url is not None and url.startswith("http://")
        ]

    def issuer_for(self, requested: str | None) -> str:
        """The issuer a resource may use: the default, or one on the allowlist."""
        if requested is None:
            return self.default_issuer
        normalized = str(with_trailing_slash(requested))
        if normalized == self.default_issuer or normalized in self.allowed_issuers:
            return normalized
        allowed = ", ".join((self.default_issuer, *self.allowed_issuers))
        raise ValueError(
            f"spec.issuer {normalized} is not allowed by the operator; allowed issuers: {allowed} "
            f"(an administrator can add it to {ENV_PREFIX}ALLOWED_ISSUERS)"
        )


class InvalidSettingsError(ValueError):
    pass


SERVICE_LINK = re.compile(r"^(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_\w+)?)?)$")
"""Variables kubelet injects for a Service named ``maskinporten-operator`` (service links)."""


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    values = {
        key.removeprefix(ENV_PREFIX).lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX)
        and value != ""
        and not SERVICE_LINK.match(key.removeprefix(ENV_PREFIX))
    }
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        names = ", ".join(ENV_PREFIX + name.upper() for name in unknown)
        raise InvalidSettingsError(f"unknown setting(s): {names}")
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        raise InvalidSettingsError(describe_validation_error(error, _env_name)) from None


def _env_name(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + str(location[0]).upper()
