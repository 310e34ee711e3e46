"""A store whose extra does not import: missing (a package of the extra is not installed: install the
extra) or broken (all installed, one fails: the underlying error and the versions involved).

In-process, in the locked venv: the import of one module of an installed SDK is made to fail, as it does
when an SDK and Airflow do not fit (amazon provider 9.0 on Airflow 3.3). test_wheel.py does the same with
real installs: the amazon provider 9.0 installed, the azure extra not installed.
"""

from __future__ import annotations

import sys
from importlib.metadata import version

import pytest

from airflow_datastores.errors import BrokenExtra, MissingExtra
from airflow_datastores.stores import registry


@pytest.fixture
def s3_import_fails(monkeypatch):
    """The S3 store's next import fails inside botocore (every distribution of the extra is installed)."""
    for module in [m for m in sys.modules if m.startswith("airflow_datastores.stores.s3")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "botocore.config", None)


def test_an_installed_extra_that_fails_to_import_says_so_with_the_error_and_versions(s3_import_fails):
    with pytest.raises(BrokenExtra) as err:
        registry.backend_class("s3")
    message = str(err.value)
    assert "The s3:// store's extra 's3' is installed but does not import: ModuleNotFoundError" in message
    assert "botocore.config" in message
    for name in ("apache-airflow-core", "apache-airflow-providers-amazon", "boto3", "botocore", "awscrt"):
        assert f"{name} {version(name)}" in message
    assert "not installed" not in message
    assert "reinstalling the extra changes nothing" in message and "pip install --upgrade" in message
    assert isinstance(err.value.__cause__, ImportError) and err.value.outside == []


def test_a_package_outside_the_extras_range_is_named_with_the_range(s3_import_fails, monkeypatch):
    real = registry.installed_version
    monkeypatch.setattr(registry, "installed_version",
                        lambda name: "9.0.0" if name == "apache-airflow-providers-amazon" else real(name))
    with pytest.raises(BrokenExtra) as err:
        registry.backend_class("s3")
    message = str(err.value)
    assert "apache-airflow-providers-amazon 9.0.0 (the extra needs >=9.4.0)" in message
    assert "pip install 'airflow-provider-datastores[s3]' moves it into it" in message
    assert err.value.outside == ["apache-airflow-providers-amazon"]


def test_a_missing_package_of_the_extra_names_it_and_the_extra(s3_import_fails, monkeypatch):
    real = registry.installed_version
    monkeypatch.setattr(registry, "installed_version", lambda name: None if name == "awscrt" else real(name))
    with pytest.raises(MissingExtra) as err:
        registry.backend_class("s3")
    assert not isinstance(err.value, BrokenExtra)
    assert str(err.value) == ("The s3:// store needs the 's3' extra, which is not installed (missing: awscrt). "
                              "Install it with: pip install 'airflow-provider-datastores[s3]'")


def test_a_bug_in_our_own_module_is_not_blamed_on_the_extra(monkeypatch):
    for module in [m for m in sys.modules if m.startswith("airflow_datastores.stores.s3")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "airflow_datastores.stores.s3_checksums", None)
    with pytest.raises(ImportError) as err:
        registry.backend_class("s3")
    assert not isinstance(err.value, MissingExtra | BrokenExtra)
