"""moto's HTTP server on 127.0.0.1, spoken to by boto3 over real HTTP.

Tests never use moto's in-process decorators: the adapters under test see a real HTTP
endpoint, with real request signing, streaming bodies and error responses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "eu-west-3"


@dataclass(frozen=True)
class MotoEndpoint:
    """Where the moto server listens and how to build clients for it."""

    url: str
    region: str = REGION

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of ``service`` talking HTTP to this server."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )


@contextmanager
def moto_server() -> Iterator[MotoEndpoint]:
    """Start moto's ThreadedMotoServer on a free loopback port; stop it afterwards."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoEndpoint(url=f"http://{host}:{port}")
    finally:
        server.stop()
