"""Which CA bundle ``token`` trusts: ``--ca-bundle``, else with ``--from-cluster`` the operator's
``MASKINPORTEN_OPERATOR_CA_BUNDLE`` (the operator's settings already give the issuer there)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from maskinporten_operator.cli.common import EXIT_USAGE, CommandError
from maskinporten_operator.cli.inputs import ca_bundle
from maskinporten_testbed.testca import CertificateAuthority

SETTING = "MASKINPORTEN_OPERATOR_CA_BUNDLE"


@pytest.fixture(scope="module")
def bundle(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca-bundle") / "ca.pem"
    path.write_bytes(ca.root_pem())
    return path


def arguments(
    *, ca_bundle: Path | None = None, from_cluster: str | None = None
) -> argparse.Namespace:
    return argparse.Namespace(ca_bundle=ca_bundle, from_cluster=from_cluster)


def test_no_ca_bundle_by_default() -> None:
    assert ca_bundle(arguments(), {}) is None


def test_flag_names_the_ca_bundle(bundle: Path) -> None:
    assert ca_bundle(arguments(ca_bundle=bundle), {}) == str(bundle)


def test_operator_setting_is_the_ca_bundle_with_from_cluster(bundle: Path) -> None:
    chosen = ca_bundle(arguments(from_cluster="team/weather"), {SETTING: str(bundle)})

    assert chosen == str(bundle)


def test_operator_setting_is_ignored_without_from_cluster(bundle: Path) -> None:
    assert ca_bundle(arguments(), {SETTING: str(bundle)}) is None


def test_flag_wins_over_the_operator_setting(bundle: Path, tmp_path: Path) -> None:
    environ = {SETTING: str(tmp_path / "other.pem")}

    chosen = ca_bundle(arguments(ca_bundle=bundle, from_cluster="team/weather"), environ)

    assert chosen == str(bundle)


def test_missing_operator_setting_file_is_a_usage_error_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"

    with pytest.raises(CommandError) as caught:
        ca_bundle(arguments(from_cluster="team/weather"), {SETTING: str(missing)})

    assert str(caught.value) == f"{SETTING}: {missing} does not exist"
    assert caught.value.exit_code == EXIT_USAGE
