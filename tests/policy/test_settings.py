"""retention.yaml: safe defaults, named stores and connections, no inline credentials."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from retention_pipeline.domain.settings import KmsCustody, LocalCustody, default_config_text
from retention_pipeline.services.policy_check import check_settings_text
from tests.policy.examples import SETTINGS_TEXT
from tests.support.services import in_ci

F = "home/retention.yaml"
CONNECTION_HINT = (
    "use {url_env: VARIABLE} (the URL comes from the environment) "
    "or {airflow_conn_id: ID} (from an Airflow connection)"
)


def problems(text: str) -> list[str]:
    return [str(p) for p in check_settings_text(text, F)[1]]


def test_design_example_validates() -> None:
    settings, found = check_settings_text(SETTINGS_TEXT, F)
    assert found == [] and settings is not None
    assert settings.stores["archives-eu-cold"].object_lock is True
    assert settings.connections["acme_crm"].url_env == "ACME_CRM_URL"
    assert isinstance(settings.key_custody, LocalCustody)


def test_default_config_text_validates_and_an_empty_file_means_defaults() -> None:
    settings, found = check_settings_text(default_config_text(), F)
    assert found == [] and settings is not None
    assert settings.stores and settings.catalog == "sqlite:///catalog.db"
    empty, found = check_settings_text("", F)
    assert found == [] and empty is not None
    assert empty.key_custody == LocalCustody(kind="local", master_key_file="keys/master.key")


def test_aws_kms_custody() -> None:
    settings, found = check_settings_text("key_custody: {kind: aws-kms, region: eu-west-3}\n", F)
    assert found == [] and settings is not None
    assert settings.key_custody == KmsCustody(kind="aws-kms", region="eu-west-3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'connections:\n  acme: {url: "postgresql://crm:hunter2@db/acme"}\n',
            [f"{F}:2: connections.acme.url: an inline URL or password is refused "
             f"(got <redacted>); {CONNECTION_HINT}"],
        ),
        (
            "connections:\n  acme:\n    url_env: ACME_URL\n    password: hunter2\n",
            [f"{F}:4: connections.acme.password: an inline URL or password is refused "
             f"(got <redacted>); {CONNECTION_HINT}"],
        ),
        (
            "connections:\n  acme: {}\n",
            [f"{F}:2: connections.acme: needs exactly one source; {CONNECTION_HINT}"],
        ),
        (
            "key_custody: {kind: vault, address: x}\n",
            [f"{F}:1: key_custody.kind: is not a known kind (got 'vault'); "
             "use kind: aws-kms or kind: local"],
        ),
        (
            "key_custody:\n  kind: aws-kms\n  regoin: eu-west-3\n",
            [f"{F}:1: key_custody.region: is required; add it",
             f"{F}:3: key_custody.regoin: is not a known field; did you mean 'region'?"],
        ),
        (
            "stores:\n  backups: {url: ftp://host/backups}\n",
            [f"{F}:2: stores.backups.url: is not a store URL (got 'ftp://host/backups'); "
             "use file:///absolute/folder, file://folder/in/home or s3://bucket/prefix"],
        ),
        (
            'stores:\n  backups: {url: "s3://AKIA:hunter2@bucket/x"}\n',
            [f"{F}:2: stores.backups.url: a store URL must not carry credentials "
             "(got <redacted>); remove 'user:password@'; "
             "S3 credentials come from the environment or IAM role"],
        ),
        (
            "stores:\n  Backups EU: {url: file:///b}\n",
            [f"{F}:2: stores.Backups EU: is not a valid name; use 2 to 63 characters of "
             "a-z, 0-9, '-' and '_', starting with a letter or digit"],
        ),
        (
            'catalog: "postgresql://retention:hunter2@db.internal/catalog"\n',
            [f"{F}:1: catalog: a catalog URL must not carry a password (got <redacted>); "
             "remove 'user:password@' and set RETENTION_CATALOG_URL in the environment "
             "instead (it overrides this field)"],
        ),
        (
            "catalogue: sqlite:///x.db\n",
            [f"{F}:1: catalogue: is not a known field; did you mean 'catalog'?"],
        ),
        (
            "stores:\n  bk: {url: file:///b}\n  bk: {url: file:///c}\n",
            [f"{F}:3: stores.bk: written twice (first at line 2); keep only one of them"],
        ),
    ],
)  # fmt: skip
def test_broken_settings_name_the_line_and_the_fix(text: str, expected: list[str]) -> None:
    assert problems(text) == expected
    assert all("hunter2" not in line for line in problems(text))


def test_real_age_keygen_recipient_is_accepted() -> None:
    """A recipient printed by the real age tool validates (the client's own tooling)."""
    if shutil.which("age-keygen") is None:
        if in_ci():
            pytest.fail("age-keygen is not installed (apt-get install age)")
        pytest.skip("age-keygen is not installed (apt-get install age)")
    from retention_pipeline.domain.policy import ClientPolicy

    identity = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    recipient = subprocess.run(
        ["age-keygen", "-y"], input=identity, capture_output=True, text=True, check=True
    ).stdout.strip()
    policy = ClientPolicy.from_document(
        {"client": "acme-sas", "protection": {"client_recipients": [recipient]}}
    )
    assert policy.protection.client_recipients == [recipient]
