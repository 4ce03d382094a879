"""retention-pipeline: make a CRM hoster's order-form promises true and provable.

Vocabulary (shared/DESIGN.md section 2, kept here so code and docs say the same words):

client
    A tenant of the CRM hosting, named by an opaque id matching ``[a-z0-9-]{3,63}``.
    Only this id ever reaches logs, XCom, DAG-run conf or exception text.
source
    A client's CRM database (PostgreSQL, MariaDB/MySQL or SQLite) and document folder.
store
    A named place for bytes: a local folder (``file://``) or an S3 bucket and prefix
    (``s3://``), with a location and capabilities (versioning, object lock, storage classes).
recovery point
    One encrypted, self-describing backup of one client at one instant: one object.
archive copy
    A recovery point copied onto an archive store (separate support, long retention).
client key
    The client's X25519 key pair; backups are encrypted to its public half.
erasure
    Removal of every copy of a client's data, plus destruction of the client key.
evidence log
    An append-only, hash-linked log of every action.

Layers: ``domain`` (pure), ``envelope`` (formats), ``ports`` (Protocols), ``adapters``
(I/O), ``services`` (use cases), ``bootstrap`` (wiring), and the entry points ``cli``,
``dags/`` and ``plugins/``.
"""

__version__ = "0.1.0"
