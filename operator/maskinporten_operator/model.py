"""The MaskinportenClient API as pydantic models, and the messages users see when it is wrong."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

GROUP = "maskinporten-operator.dev"
VERSION = "v1alpha1"
PLURAL = "maskinportenclients"
KIND = "MaskinportenClient"
API_VERSION = f"{GROUP}/{VERSION}"

SCOPE_PATTERN = r"^[a-z0-9][a-z0-9._-]*:[a-zA-Z0-9._/:-]+$"
ORG_NUMBER_PATTERN = r"^[0-9]{9}$"
KEY_ID_PATTERN = r"^[a-zA-Z0-9._-]+$"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class ScopeRef(_Model):
    name: str = Field(pattern=SCOPE_PATTERN, max_length=256)


class Scopes(_Model):
    consumes: list[ScopeRef] = Field(min_length=1, max_length=50)


class KeySource(StrEnum):
    GENERATED = "Generated"
    EXISTING = "Existing"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class KeySpec(_Model):
    source: KeySource = KeySource.GENERATED
    secret_name: str | None = Field(default=None, max_length=253)
    secret_key: str | None = Field(default=None, max_length=253)
    key_id: str | None = Field(default=None, pattern=KEY_ID_PATTERN, max_length=128)
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN


class RefreshSpec(_Model):
    at_lifetime_percent: int | None = Field(default=None, ge=10, le=90)
    before_expiry_seconds: int | None = Field(default=None, ge=0, le=86_400)


class ClientSpec(_Model):
    client_id: str = Field(min_length=1, max_length=256)
    scopes: Scopes
    secret_name: str | None = Field(default=None, max_length=253)
    resource: str | None = Field(default=None, min_length=1, max_length=2048)
    consumer_org: str | None = Field(default=None, pattern=ORG_NUMBER_PATTERN)
    issuer: str | None = Field(default=None, max_length=2048)
    include_client_jwk: bool = False
    key: KeySpec = KeySpec()
    refresh: RefreshSpec = RefreshSpec()

    @property
    def scope_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(scope.name for scope in self.scopes.consumes))

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
