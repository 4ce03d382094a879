"""The order form of DESIGN §5 as a policy file, and the installation it refers to.

Cases edit this text line by line, so keep its line numbers stable (they are asserted).
"""

from __future__ import annotations

from retention_pipeline.domain.settings import Settings

# A real X25519 recipient printed by `age-keygen` (a public key: safe to publish).
RECIPIENT = "age1us8apsvyhjqqcmmxwxjn684h7684y0sv8jtjhls8rsu7vd67q5yssf9767"

GOOD_POLICY = f"""\
client: acme-sas
display_name: ACME SAS            # stays in the catalog; never in Airflow metadata or logs
contract: {{reference: BC-2026-0042, ends_on: null}}
source:
  database: {{connection: acme_crm}}
  documents: {{path: /srv/crm/acme/documents}}
backup:
  mode: automated
  schedule: "0 2 * * *"
  storage: backups-eu
  retention: {{max_age: 35d, min_age: 7d, keep: {{last: 3, daily: 7, weekly: 4, monthly: 6}}}}
archive:
  enabled: true
  every: monthly
  storage: archives-eu-cold
  retention: {{max_age: 10y}}
  lock: {{mode: compliance, days: 3650}}
purpose: "Restore after an incident, per order form BC-2026-0042"
legal_basis: contract
protection: {{client_recipients: [{RECIPIENT}], hoster_can_decrypt: true}}
erasure:
  after_contract_end: 30d
  certificate_to: ["file:///srv/certificates/acme-sas", "s3://crm-certificates/acme-sas"]
  approval: required
legal_hold: {{active: false, reason: null}}
"""

SETTINGS_TEXT = """\
catalog: sqlite:///catalog.db
key_custody: {kind: local, master_key_file: keys/master.key}
signing_key: keys/certificates.ed25519
stores:
  backups-eu: {url: "file:///var/lib/retention/backups", location: eu-west-3}
  archives-eu-cold: {url: "s3://crm-archives/prod", location: eu-west-3, endpoint_url: null,
                     storage_class: DEEP_ARCHIVE, object_lock: true}
connections:
  acme_crm: {url_env: ACME_CRM_URL}
  other_crm: {airflow_conn_id: other_crm}
"""

SETTINGS = Settings.model_validate(
    {
        "stores": {
            "backups-eu": {"url": "file:///var/lib/retention/backups"},
            "archives-eu-cold": {"url": "s3://crm-archives/prod", "object_lock": True},
        },
        "connections": {"acme_crm": {"url_env": "ACME_CRM_URL"}},
    }
)

POLICY_FILE = "policies/acme-sas.yaml"
