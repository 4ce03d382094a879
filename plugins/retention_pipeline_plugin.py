"""Airflow plugin: mounts the auditors' compliance app and adds it to the UI navigation.

Thin wiring only; the app and its authentication live in ``retention_pipeline.airflow_plugin``.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from retention_pipeline.airflow_plugin import PREFIX, app


class RetentionPipelinePlugin(AirflowPlugin):
    """The compliance summary, client policies, certificates and log checkpoint."""

    name = "retention_pipeline"
    fastapi_apps: list[Any] = [  # noqa: RUF012 - Airflow reads these class attributes
        {"app": app, "url_prefix": PREFIX, "name": "Retention compliance"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Retention compliance",
            "href": f"{PREFIX}/",
            "destination": "nav",
            "url_route": "retention",
        }
    ]
