# The Airflow image with retention-pipeline installed from the pinned constraints.
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends age zstd \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root pyproject.toml constraints.txt README.md /opt/retention-pipeline/
COPY --chown=airflow:root src /opt/retention-pipeline/src
RUN pip install --no-cache-dir -c /opt/retention-pipeline/constraints.txt /opt/retention-pipeline
