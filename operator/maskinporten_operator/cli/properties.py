"""Client settings in the properties-file format of Digdir's Java jwt-grant-generator.

So its users can switch with the file they have::

    issuer=<client id>                 # the CLIENT ID (the grant's iss), despite the name
    audience=https://test.maskinporten.no/
    token.endpoint=https://test.maskinporten.no/token
    scope=skatteetaten:weather.read
    keystore.file=keystore.p12
    keystore.password=...
    keystore.alias=...
    keystore.alias.password=...
    keystore.kid=...                   # registered key id: sign with kid instead of x5c
    resource=https://api.example.no/
    consumer_org=123456789

Parsed as ``java.util.Properties`` does (``#``/``!`` comments, ``=``/``:``/space separators,
backslash escapes and continuation lines), plus ``//`` comment lines, which the examples in
circulation use. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from maskinporten_operator.settings import KNOWN_ISSUERS, Environment

KNOWN_KEYS = frozenset(
    {
        "issuer",
        "audience",
        "token.endpoint",
        "scope",
        "keystore.file",
        "keystore.password",
        "keystore.alias",
        "keystore.alias.password",
        "keystore.kid",
        "resource",
        "consumer_org",
    }
)
TEST_ISSUER = KNOWN_ISSUERS[Environment.TEST]
PROD_ISSUER = KNOWN_ISSUERS[Environment.PROD]
RETIRED_HOSTS = {
    "ver1.maskinporten.no": TEST_ISSUER,
    "ver2.maskinporten.no": TEST_ISSUER,
    "oidc-ver1.difi.no": TEST_ISSUER,
    "oidc-ver2.difi.no": TEST_ISSUER,
    "oidc.difi.no": PROD_ISSUER,
}
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_SEPARATOR = re.compile(r"(?<!\\)(?:\\\\)*[=:\s]")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


@dataclass(frozen=True)
class GrantProperties:
    client_id: str | None = None
    audience: str | None = None
    token_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    resource: str | None = None
    consumer_org: str | None = None
    keystore_file: str | None = None
    keystore_password: str | None = field(default=None, repr=False)
    keystore_alias: str | None = None
    keystore_alias_password: str | None = field(default=None, repr=False)
    key_id: str | None = None
    warnings: tuple[str, ...] = ()


def parse_properties(text: str) -> dict[str, str]:
    """``key -> value`` as ``java.util.Properties.load`` reads them (keeping trailing spaces)."""
    entries: dict[str, str] = {}
    for line in _logical_lines(text):
        match = _SEPARATOR.search(line)
        end = match.end() - 1 if match else len(line)
        rest = line[end:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        entries[_unescape(line[:end])] = _unescape(rest)
    return entries


def grant_properties(text: str, *, source: str) -> GrantProperties:
    """The settings a jwt-grant-generator properties file holds, with warnings about it."""
    entries = parse_properties(text)
    warnings = [
        f"{source}: ignoring unknown setting '{key}'" for key in entries if key not in KNOWN_KEYS
    ]

    def value(key: str) -> str | None:
        return entries.get(key, "").strip() or None

    for key in ("audience", "token.endpoint"):
        warnings.extend(_retired_host(source, key, value(key)))
    warnings.extend(
        f"{source}: {key} ends with whitespace, which is part of the password (as in Java)"
        for key in ("keystore.password", "keystore.alias.password")
        if entries.get(key, "") != entries.get(key, "").rstrip()
    )
    return GrantProperties(
        client_id=value("issuer"),
        audience=value("audience"),
        token_endpoint=value("token.endpoint"),
        scopes=tuple(entries.get("scope", "").split()),
        resource=value("resource"),
        consumer_org=value("consumer_org"),
        keystore_file=value("keystore.file"),
        keystore_password=entries.get("keystore.password"),
        keystore_alias=value("keystore.alias"),
        keystore_alias_password=entries.get("keystore.alias.password"),
        key_id=value("keystore.kid"),
        warnings=tuple(warnings),
    )


def _retired_host(source: str, key: str, url: str | None) -> list[str]:
    if url is None:
        return []
    replacement = RETIRED_HOSTS.get(urlsplit(url).hostname or "")
    if replacement is None:
        if key == "audience" and url.rstrip("/").endswith("/token"):
            return [
                f"{source}: audience={url} is a token endpoint; Maskinporten wants its issuer "
                f"as audience ({TEST_ISSUER} or {PROD_ISSUER})"
            ]
        return []
    wanted = replacement if key == "audience" else replacement + "token"
    return [f"{source}: {key}={url} points at a retired host; use {key}={wanted} instead"]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending: str | None = None
    for raw in text.splitlines():
        line = raw.lstrip(" \t\f")
        if pending is None and (not line or line.startswith(("#", "!", "//"))):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        continued = trailing % 2 == 1
        part = line[:-1] if continued else line
        pending = part if pending is None else pending + part
        if not continued:
            lines.append(pending)
            pending = None
    if pending is not None:
        lines.append(pending)
    return lines


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped = match[1]
        return chr(int(escaped[1:], 16)) if len(escaped) == 5 else _ESCAPES.get(escaped, escaped)

    return _ESCAPE.sub(replace, text)
