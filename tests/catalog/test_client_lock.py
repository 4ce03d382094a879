"""One operation at a time per client (issue 16, item 4), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from retention_pipeline.adapters.catalog import SqlCatalog, open_catalog
from retention_pipeline.ports.catalog import ClientBusyError


def test_a_second_caller_is_refused_naming_the_running_operation(catalog_url: str) -> None:
    first, second = open_catalog(catalog_url), open_catalog(catalog_url)
    try:
        with first.client_lock("acme-sas", "backup"):
            with (
                pytest.raises(ClientBusyError) as busy,
                second.client_lock("acme-sas", "erasure", wait=0.5),
            ):
                pass  # pragma: no cover - never entered
            with second.client_lock("other-client", "erasure"):
                pass  # another client is not held up
        message = str(busy.value)
        assert "backup is running" in message and f"process {os.getpid()}" in message
        assert "erasure waited 0.5 s and did nothing" in message
        with second.client_lock("acme-sas", "erasure"):  # released at the end of the block
            pass
    finally:
        first.close()
        second.close()


def test_the_lock_is_released_when_its_block_fails(catalog: SqlCatalog) -> None:
    with pytest.raises(RuntimeError), catalog.client_lock("acme-sas", "backup"):
        raise RuntimeError("the backup failed")
    with catalog.client_lock("acme-sas", "backup"):
        pass


def test_a_holder_killed_with_sigkill_leaves_the_client_free(catalog_url: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from retention_pipeline.adapters.catalog import open_catalog
        catalog = open_catalog({catalog_url!r})
        with catalog.client_lock("acme-sas", "archive"):
            print("held", flush=True)
            time.sleep(600)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    catalog = open_catalog(catalog_url)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = pytest.raises(ClientBusyError, match="archive is running")
        with busy, catalog.client_lock("acme-sas", "backup", wait=0.2):
            pass  # pragma: no cover - never entered
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        with catalog.client_lock("acme-sas", "backup", wait=10):
            pass  # the server or the kernel released it with the process
    finally:
        holder.kill()
        holder.wait(30)
        catalog.close()
