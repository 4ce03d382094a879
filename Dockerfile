# The Airflow image with retention-pipeline installed from the pinned constraints.
# postgresql-client: a PostgreSQL backup takes its DDL from pg_dump, which must be at least
# the servers' major version (Debian bookworm ships 15; add the PGDG repository for newer).
# mariadb-client: the restore drills and operators compare with mariadb-dump.
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends age zstd postgresql-client mariadb-client \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root pyproject.toml constraints.txt README.md /opt/retention-pipeline/
COPY --chown=airflow:root src /opt/retention-pipeline/src
RUN pip install --no-cache-dir -c /opt/retention-pipeline/constraints.txt /opt/retention-pipeline
