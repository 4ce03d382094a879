"""Fixtures for the key custody tests: every ``KeyCustody`` adapter behind one handle.

The contract suite asks for ``handle`` and runs once per kind of custody:

* ``local``: a ``LocalKeyCustody`` whose master key file lives in ``tmp_path``;
* ``aws-kms``: a ``KmsKeyCustody`` talking HTTP to moto's server, region eu-west-3.

moto's server lives for the whole session, so every test gets its own client ids
(``handle.new_client()``): aliases and keys of one test never meet another's.
"""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from retention_pipeline.adapters.kms_keys import KmsKeyCustody
from retention_pipeline.adapters.local_keys import LocalKeyCustody
from retention_pipeline.ports.keys import KeyCustody
from tests.support.moto import MotoEndpoint


@dataclass(frozen=True)
class AgeKeyPair:
    """A key pair made by the real ``age-keygen``: what a client key looks like."""

    identity: bytes  # AGE-SECRET-KEY-1..., UTF-8
    recipient: str  # age1...


def age_keypair() -> AgeKeyPair:
    """A fresh X25519 key pair from Debian's ``age-keygen``."""
    out = subprocess.run(["age-keygen"], check=True, capture_output=True, text=True).stdout
    secret = next(line for line in out.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    public = subprocess.run(
        ["age-keygen", "-y"], input=secret, check=True, capture_output=True, text=True
    ).stdout.strip()
    return AgeKeyPair(secret.encode("utf-8"), public)


@dataclass(frozen=True)
class CustodyHandle:
    """One custody under test, and how to make fresh client ids for it."""

    custody: KeyCustody
    tmp_path: Path
    moto: MotoEndpoint | None = None

    def new_client(self, stem: str = "client") -> str:
        """A client id no other test uses."""
        return f"{stem}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def keypair() -> AgeKeyPair:
    """A fresh age key pair for one test."""
    return age_keypair()


@pytest.fixture(params=["local", "aws-kms"])
def handle(request: pytest.FixtureRequest, tmp_path: Path) -> CustodyHandle:
    """Each custody adapter in turn (see the module docstring)."""
    if request.param == "local":
        return CustodyHandle(LocalKeyCustody(tmp_path / "keys" / "master.key"), tmp_path)
    moto: MotoEndpoint = request.getfixturevalue("moto")
    custody = KmsKeyCustody(moto.region, endpoint_url=moto.url, client=moto.client("kms"))
    return CustodyHandle(custody, tmp_path, moto)
