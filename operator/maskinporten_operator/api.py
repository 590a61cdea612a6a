"""The MaskinportenClient API as pydantic models, and the messages users see when it is wrong."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

GROUP = "maskinporten-operator.dev"
VERSION = "v1alpha1"
PLURAL = "maskinportenclients"
KIND = "MaskinportenClient"
API_VERSION = f"{GROUP}/{VERSION}"

SCOPE_PATTERN = r"^[!#-\[\]-~]+$"
"""Any scope name OAuth 2.0 allows (RFC 6749 section 3.3: printable ASCII but space, ``"`` and
``\\``), as generic servers name them (``api1``, ``weather.read``): grantType ClientCredentials."""
MASKINPORTEN_SCOPE_PATTERN = r"^[a-z0-9][a-z0-9._-]*:[a-zA-Z0-9._/:-]+$"
"""Maskinporten's scope names (``prefix:name``): grantType JwtBearer."""
ORG_NUMBER_PATTERN = r"^[0-9]{9}$"
KEY_ID_PATTERN = r"^[a-zA-Z0-9._-]+$"
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
"""A Kubernetes object name such as a Secret's (an RFC 1123 subdomain)."""

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "maskinporten-operator"
FIELD_MANAGER = MANAGED_BY
"""The field manager of the operator's patches (``metadata.managedFields``)."""
CLIENT_LABEL = f"{GROUP}/client"
"""On a Secret: the MaskinportenClient it belongs to, as :func:`label_value` gives it. The
operator puts it on every Secret it writes; a user puts it on a key or password Secret of their
own so that the operator watches that Secret too. On a pod (set on its template): the pod reads
the client's token Secret, so the operator prompts its kubelet after each new token (see
:data:`TOKEN_VERSION_ANNOTATION`)."""
WATCHED_SELECTOR = CLIENT_LABEL
"""The server-side label selector of the operator's one Secret watch: every Secret with a
:data:`CLIENT_LABEL` (its own, and users' Secrets labelled for a MaskinportenClient)."""
CLIENT_ANNOTATION = f"{GROUP}/client"
"""On a managed Secret: the full name of the MaskinportenClient it belongs to."""
LABEL_VALUE_MAX_LENGTH = 63
ROLE_LABEL = f"{GROUP}/role"
"""On a managed Secret: ``workload`` or ``key``."""
TOKENS_ANNOTATION = f"{GROUP}/tokens"
"""On a workload Secret: per token, what it was requested with and when it expires (JSON)."""
DATA_HASH_ANNOTATION = f"{GROUP}/data-hash"
"""On a managed Secret: SHA-256 of the data the operator wrote, to notice edits."""
KEY_ID_ANNOTATION = f"{GROUP}/key-id"
"""On a generated key Secret: the key's ``kid``."""
FORCE_REFRESH_ANNOTATION = f"{GROUP}/force-refresh"
"""On a MaskinportenClient: a new value requests new tokens at once."""
ROTATE_KEY_ANNOTATION = f"{GROUP}/rotate-key"
"""On a managed MaskinportenClient: a new value rotates its key now."""
TOKEN_VERSION_ANNOTATION = f"{GROUP}/token-version"
"""On a pod labelled :data:`CLIENT_LABEL` for a MaskinportenClient: the resourceVersion of the
workload Secret holding the client's newest token. The operator sets it after writing a new
token: a change to a pod's metadata makes the kubelet sync the pod, and so copy the new Secret
into its volume, at once rather than at its next periodic sync (up to ~90 s later)."""


def label_value(name: str) -> str:
    """``name`` as a label value: itself when it fits in 63 characters, else a prefix of it and
    a digest of the whole, so that distinct names stay distinct (label values are limited to
    63 characters; object names, to 253)."""
    if len(name) <= LABEL_VALUE_MAX_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return name[: LABEL_VALUE_MAX_LENGTH - len(digest) - 1].rstrip("-.") + "-" + digest


def is_watched(secret: Mapping[str, Any]) -> bool:
    """Whether :data:`WATCHED_SELECTOR` selects ``secret`` (a Secret in wire shape)."""
    return CLIENT_LABEL in (secret.get("metadata", {}).get("labels") or {})


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class GrantType(StrEnum):
    JWT_BEARER = "JwtBearer"
    CLIENT_CREDENTIALS = "ClientCredentials"


class ScopeRef(_Model):
    name: str = Field(pattern=SCOPE_PATTERN, max_length=256)


class Scopes(_Model):
    consumes: list[ScopeRef] = Field(min_length=1, max_length=50)

    @field_validator("consumes")
    @classmethod
    def _each_scope_once(cls, consumes: list[ScopeRef]) -> list[ScopeRef]:
        """The CRD's ``x-kubernetes-list-type: map`` keyed by ``name``: no scope twice."""
        names = [scope.name for scope in consumes]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once: list each scope once")
        return consumes


class KeySource(StrEnum):
    GENERATED = "Generated"
    EXISTING = "Existing"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class KeyMode(StrEnum):
    AUTO = "Auto"
    KEY_ID = "KeyId"
    CERTIFICATE = "Certificate"


class SecretKeyRef(_Model):
    name: str = Field(max_length=253)
    key: str = Field(default="password", max_length=253)


class KeySpec(_Model):
    source: KeySource = KeySource.GENERATED
    secret_name: str | None = Field(default=None, pattern=OBJECT_NAME_PATTERN, max_length=253)
    secret_key: str | None = Field(default=None, max_length=253)
    key_id: str | None = Field(default=None, pattern=KEY_ID_PATTERN, max_length=128)
    password_secret_ref: SecretKeyRef | None = None
    mode: KeyMode = KeyMode.AUTO
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN


ACCESS_TOKEN_LIFETIME_BOUNDS = (1, 7200)
"""The ``access_token_lifetime`` (seconds) Digdir's self-service API accepts on a client
(``docs/maskinporten-facts.md``, "Self-service API")."""
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600
"""What a created client asks for, as digdirator registers: long enough that the token a pod
reads from the mounted Secret (updated up to ~2 minutes late) always has time left, where
Maskinporten's default of 120 s does not (``docs/maskinporten-facts.md``, "Delivering rotating
values to pods"); a scope's ``at_max_age`` may still grant less."""


class RegistrationSpec(_Model):
    """How a managed client is registered through Digdir's self-service API."""

    adopt: bool = False
    client_name: str | None = Field(default=None, min_length=1, max_length=256)
    deletion_policy: DeletionPolicy | None = None
    key_rotation_days: int = Field(default=90, ge=1, le=365)
    access_token_lifetime_seconds: int | None = Field(
        default=None, ge=ACCESS_TOKEN_LIFETIME_BOUNDS[0], le=ACCESS_TOKEN_LIFETIME_BOUNDS[1]
    )

    @property
    def effective_deletion_policy(self) -> DeletionPolicy:
        """``Retain`` for an adopted client, whatever was asked; else as given (``Delete``)."""
        if self.adopt:
            return DeletionPolicy.RETAIN
        return self.deletion_policy or DeletionPolicy.DELETE


class RefreshSpec(_Model):
    at_lifetime_percent: int | None = Field(default=None, ge=10, le=90)
    before_expiry_seconds: int | None = Field(default=None, ge=0, le=86_400)


ENTRY_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
Resource = Annotated[str, Field(min_length=1, max_length=2048)]


class TokenSpec(_Model):
    name: str = Field(pattern=ENTRY_NAME_PATTERN, max_length=40)
    scopes: list[Annotated[str, Field(pattern=SCOPE_PATTERN, max_length=256)]] = Field(
        min_length=1, max_length=50
    )
    resource: Resource | None = None


SYSTEMUSER_TYPE = "urn:altinn:systemuser"
CONSENT_TYPE = "urn:altinn:consent"
DETAIL_TYPE_PATTERN = r"^urn:[a-z0-9][a-z0-9-]*(:[A-Za-z0-9._-]+)+$"
CONSENT_GIVER_PATTERN = r"^urn:altinn:(person|organization):identifier-no:[0-9]{9,11}$"
_DETAIL_FIELDS = {
    SYSTEMUSER_TYPE: ("systemuser_org", "external_ref"),
    CONSENT_TYPE: ("id", "from_"),
}
"""The members each known type may carry (others carry only their ``type``)."""
_REQUIRED_DETAIL_FIELDS = {SYSTEMUSER_TYPE: ("systemuser_org",), CONSENT_TYPE: ("id", "from_")}


class AuthorizationDetailSpec(_Model):
    """One RFC 9396 authorization detail of the grant: an Altinn system user
    (``urn:altinn:systemuser``: ``systemuserOrg``, optional ``externalRef``) or a consent
    (``urn:altinn:consent``: ``id`` and ``from``). Source: ``docs/maskinporten-facts.md``,
    "The JWT grant"."""

    type: str = Field(pattern=DETAIL_TYPE_PATTERN, max_length=256)
    systemuser_org: str | None = Field(default=None, pattern=ORG_NUMBER_PATTERN)
    external_ref: str | None = Field(default=None, min_length=1, max_length=256)
    id: str | None = Field(default=None, min_length=1, max_length=256)
    from_: str | None = Field(
        default=None, alias="from", pattern=CONSENT_GIVER_PATTERN, max_length=256
    )

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> AuthorizationDetailSpec:
        allowed = _DETAIL_FIELDS.get(self.type, ())
        given = [
            name
            for name in ("systemuser_org", "external_ref", "id", "from_")
            if getattr(self, name) is not None
        ]
        foreign = [name for name in given if name not in allowed]
        missing = [name for name in _REQUIRED_DETAIL_FIELDS.get(self.type, ()) if name not in given]
        if foreign:
            raise ValueError(
                f"{', '.join(_camel(n) for n in foreign)} do not belong to type {self.type}"
            )
        if missing:
            raise ValueError(f"type {self.type} needs {' and '.join(_camel(n) for n in missing)}")
        return self


def _camel(name: str) -> str:
    return to_camel(name.rstrip("_"))


@dataclass(frozen=True)
class DesiredToken:
    """One token the workload Secret carries: ``name`` is "" for the single default token."""

    name: str
    scopes: tuple[str, ...]
    resource: str | tuple[str, ...] | None


class ClientSpec(_Model):
    client_id: str | None = Field(default=None, min_length=1, max_length=256)
    scopes: Scopes
    secret_name: str | None = Field(default=None, pattern=OBJECT_NAME_PATTERN, max_length=253)
    resource: Resource | None = None
    resources: list[Resource] | None = Field(default=None, min_length=1, max_length=20)
    tokens: list[TokenSpec] = Field(default_factory=list, max_length=20)
    consumer_org: str | None = Field(default=None, pattern=ORG_NUMBER_PATTERN)
    system_user_org: str | None = Field(default=None, pattern=ORG_NUMBER_PATTERN)
    authorization_details: list[AuthorizationDetailSpec] | None = Field(
        default=None, min_length=1, max_length=10
    )
    issuer: str | None = Field(default=None, max_length=2048)
    include_client_jwk: bool = False
    altinn_exchange: bool = False
    grant_type: GrantType = GrantType.JWT_BEARER
    key: KeySpec = KeySpec()
    refresh: RefreshSpec = RefreshSpec()
    registration: RegistrationSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ClientSpec:
        self._consistent_registration()
        self._consistent_secrets()
        if self.resource is not None and self.resources is not None:
            raise ValueError("set resource or resources, not both")
        self._consistent_authorization_details()
        undeclared = {s for token in self.tokens for s in token.scopes} - set(self.scope_names)
        if undeclared:
            raise ValueError(
                f"tokens use scopes not listed in scopes.consumes: {', '.join(sorted(undeclared))}"
            )
        self._consistent_with_grant_type()
        names = [token.name for token in self.tokens]
        if len(names) != len(set(names)):
            raise ValueError("token names must be unique")
        return self

    def _consistent_authorization_details(self) -> None:
        types = [detail.type for detail in self.authorization_details or ()]
        if self.system_user_org is not None and SYSTEMUSER_TYPE in types:
            raise ValueError(
                f"systemUserOrg is a shorthand for an authorizationDetails entry of type "
                f"{SYSTEMUSER_TYPE}: give one or the other"
            )
        if len(types) != len(set(types)):
            raise ValueError(
                "each authorizationDetails type at most once: Maskinporten takes one system "
                "user and one consent per request"
            )

    def _consistent_with_grant_type(self) -> None:
        """Resources, consumer and system user are claims of Maskinporten's JWT grant, and so
        are its scope names; client credentials name scopes as their server does."""
        if self.grant_type is GrantType.JWT_BEARER:
            if not all(re.fullmatch(MASKINPORTEN_SCOPE_PATTERN, s) for s in self.scope_names):
                raise ValueError(
                    "Maskinporten scopes are named prefix:name (such as skatteetaten:mva): "
                    "another server's scope names need grantType ClientCredentials"
                )
            return
        if self.client_id is None or self.registration is not None:
            raise ValueError(
                "grantType ClientCredentials is for another authorization server, where the "
                "operator registers nothing: give that server's clientId and leave out registration"
            )
        maskinporten_only = [
            field
            for field, given in (
                ("resource", self.resource is not None),
                ("resources", self.resources is not None),
                ("tokens[].resource", any(t.resource is not None for t in self.tokens)),
                ("consumerOrg", self.consumer_org is not None),
                ("systemUserOrg", self.system_user_org is not None),
                ("authorizationDetails", self.authorization_details is not None),
            )
            if given
        ]
        if maskinporten_only:
            raise ValueError(
                f"{', '.join(maskinporten_only)} apply to grantType JwtBearer (Maskinporten) only"
            )

    def _consistent_secrets(self) -> None:
        key = self.key
        if key.deletion_policy is DeletionPolicy.DELETE and key.source is KeySource.EXISTING:
            raise ValueError(
                "key.deletionPolicy Delete applies only to keys the operator generated "
                "(key.source Generated); the operator never deletes a key you brought: leave out "
                "key.deletionPolicy (Retain)"
            )
        if self.secret_name is not None and self.secret_name == key.secret_name:
            raise ValueError(
                "secretName and key.secretName must differ: workloads must not mount the key "
                "Secret by accident; give the workload Secret or the key Secret another name"
            )

    def _consistent_registration(self) -> None:
        if self.managed and self.key.source is KeySource.EXISTING:
            raise ValueError(
                "a managed client's keys are generated by the operator: leave out key.source "
                "Existing, or give the clientId of a client whose key you registered yourself"
            )
        brought = [
            field
            for field, given in (
                ("key.keyId", self.key.key_id is not None),
                ("key.secretKey", self.key.secret_key is not None),
                ("key.passwordSecretRef", self.key.password_secret_ref is not None),
                ("key.mode", self.key.mode is not KeyMode.AUTO),
            )
            if given
        ]
        if self.managed and brought:
            raise ValueError(
                "a managed client's keys are generated and rotated by the operator in the "
                f"layout it chooses: remove {', '.join(brought)}"
            )
        registration = self.registration
        if registration is None:
            return
        if registration.adopt and self.client_id is None:
            raise ValueError("registration.adopt takes over an existing client: set clientId")
        if registration.adopt and registration.deletion_policy is DeletionPolicy.DELETE:
            raise ValueError(
                "registration.deletionPolicy Delete cannot go with adopt: the operator never "
                "deletes a client it did not create"
            )
        if self.client_id is not None and not registration.adopt:
            raise ValueError(
                "registration with clientId needs adopt: true (or leave out clientId to let the "
                "operator create the client)"
            )

    @property
    def managed(self) -> bool:
        """Registered by the operator (no clientId, or an adopted one)."""
        return self.client_id is None or (self.registration is not None and self.registration.adopt)

    @property
    def registration_or_default(self) -> RegistrationSpec:
        return self.registration or RegistrationSpec()

    @property
    def scope_names(self) -> tuple[str, ...]:
        return tuple(scope.name for scope in self.scopes.consumes)

    def token_requests(self) -> tuple[DesiredToken, ...]:
        """The tokens to keep: one per ``tokens`` entry, else one for all consumed scopes."""
        if self.tokens:
            return tuple(
                DesiredToken(token.name, tuple(dict.fromkeys(token.scopes)), token.resource)
                for token in self.tokens
            )
        resource = tuple(self.resources) if self.resources is not None else self.resource
        return (DesiredToken("", self.scope_names, resource),)

    def workload_secret_name(self, resource_name: str) -> str:
        return self.secret_name or f"{resource_name}-maskinporten"

    def key_secret_name(self, resource_name: str) -> str:
        return self.key.secret_name or f"{resource_name}-maskinporten-key"


class InvalidSpecError(ValueError):
    """The spec cannot be used; the message says which field and what to change."""


def parse_spec(raw: object) -> ClientSpec:
    try:
        return ClientSpec.model_validate(raw)
    except ValidationError as error:
        raise InvalidSpecError(describe_validation_error(error, _spec_path)) from None


def _spec_path(location: tuple[int | str, ...]) -> str:
    return ".".join(["spec", *(str(part) for part in location)])


def describe_validation_error(
    error: ValidationError, name_field: Callable[[tuple[int | str, ...]], str]
) -> str:
    """``field: message`` per problem, joined by ``; ``, without echoing the offending values."""
    problems = error.errors(include_input=False, include_url=False)
    messages = [
        (problem["loc"], problem["msg"].removeprefix("Value error, ")) for problem in problems
    ]
    return "; ".join(
        f"{name_field(location)}: {message}" if location else message
        for location, message in messages
    )
