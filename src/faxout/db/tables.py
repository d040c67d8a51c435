"""The tables. Constraint names follow one convention so Alembic can alter them on every engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    text,
)


def _leased(table: str) -> Index:
    """The reconciler asks every leased table which owners hold leases (faxout.db.leases);
    this partial index holds only the rows leased now, so the question never reads history
    (1.75 s on a million-fax SQLite outbox without it: bench/history.py)."""
    held = text("lease_owner IS NOT NULL")
    return Index(f"ix_{table}_lease_owner", "lease_owner", sqlite_where=held, postgresql_where=held)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("fax_prohibited", Boolean, nullable=False, default=False),
    # Where the account's numbers are read and what its pages look like ("": the server default;
    # region "": the country of the account's own number; paper "": by destination).
    Column("region", String(2), nullable=False, server_default=""),
    Column("time_zone", String(64), nullable=False, server_default=""),
    Column("station", String(20), nullable=False, server_default=""),
    Column("tagline", Text, nullable=False, server_default=""),
    Column("paper", String(8), nullable=False, server_default=""),
    # JSON lists of number patterns the account may (allow) or may not (deny) fax.
    Column("dial_allow", Text, nullable=False, server_default="[]"),
    Column("dial_deny", Text, nullable=False, server_default="[]"),
    # An operator also runs the server from the web console (accounts, lines, outboxes).
    Column("operator", Boolean, nullable=False, server_default=false()),
    # When an operator last lifted the login throttle's locks on this account: a lock set
    # before it is void, in every worker process (faxout.intake.auth).
    Column("unlocked_at", UTCDateTime(), nullable=True),
    # days a finished fax's documents and a received fax's image are kept; None: the server's
    # inbound.retention_days (faxout.inbound.retention)
    Column("retention_days", Integer, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# API tokens: only a SHA-256 of each is kept (a token is 256 random bits, so a slow hash would
# add nothing); ``prefix`` (its first characters) lets the owner tell them apart.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", String(100), nullable=False),  # "read,send"
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Index("ix_api_tokens_account_id", "account_id"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False),
    Column("state", String(20), nullable=False),
    Column("resolution", String(4), nullable=False),
    Column("cover_page", String(200), nullable=False),
    Column("cover_text", Text, nullable=False, default=""),
    Column("send_at", UTCDateTime(), nullable=False),
    Column("sendtime_raw", String(100), nullable=True),
    Column("notes", Text, nullable=False, default="[]"),
    Column("request_id", String(32), nullable=False),
    Column("client_addr", String(64), nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    # rendering (once per submission; cover pages once per job)
    Column("rendered_key", String(200), nullable=True),
    Column("pages", Integer, nullable=True),
    Column("render_count", Integer, nullable=False, server_default="0"),
    Column("render_error", Text, nullable=True),
    Column("render_warnings", Text, nullable=False, server_default="[]"),
    # What the converter said when it refused a document: for the operator, never the sender.
    Column("render_diagnostic", Text, nullable=False, server_default=""),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),
    # When retention removed its documents and rendered pages (the rows stay: the facts);
    # its documents' keys then hold nothing (faxout.db.blobrefs).
    Column("purged_at", UTCDateTime(), nullable=True),
    Index("ix_submissions_account_created", "account_id", "created_at"),
    Index("ix_submissions_account_id_id", "account_id", "id"),  # an account's newest first
    _leased("submissions"),
    Index("ix_submissions_state", "state"),
    Index("ix_submissions_purged_at_created_at", "purged_at", "created_at"),
    Index("ix_submissions_rendered_key", "rendered_key"),  # faxout.db.blobrefs
)

documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("seq", Integer, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(200), nullable=False, default=""),
    Column("blob_key", String(200), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_documents_blob_key", "blob_key"),  # faxout.db.blobrefs
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("seq", Integer, nullable=False),
    Column("number", String(40), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("state", String(20), nullable=False),
    Column("send_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("dials", Integer, nullable=False, default=0),
    Column("tries", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("kill_at", UTCDateTime(), nullable=True),
    Column("cover_key", String(200), nullable=True),
    Column("resume_page", Integer, nullable=False, server_default="1"),
    Column("pages_confirmed", Integer, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("queued_at", UTCDateTime(), nullable=True),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    # The recipient's paper, and its own rendering when it differs from the submission's.
    Column("paper", String(8), nullable=True),
    Column("rendered_key", String(200), nullable=True),
    Column("pages", Integer, nullable=True),
    Index("ix_jobs_state_send_at", "state", "send_at"),
    Index("ix_jobs_state_kill_at", "state", "kill_at"),  # expire_killed, with a backlog
    _leased("jobs"),
    # faxout.db.blobrefs: whether a stored key is still named, without a scan
    Index("ix_jobs_rendered_key", "rendered_key"),
    Index("ix_jobs_cover_key", "cover_key"),
)

# The dispatcher's queue_due: ready jobs by when they are due (schedule/dispatcher.py's _due),
# without sorting a 10,000-job backlog at every pass (bench/burst.py: 20 ms → 0.01 ms).
Index(
    "ix_jobs_state_due_id",
    jobs.c.state,
    func.coalesce(jobs.c.next_attempt_at, jobs.c.send_at),
    jobs.c.id,
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("attempt_no", Integer, nullable=False),
    Column("phase", String(12), nullable=False),  # claimed, dialing, finished
    Column("worker", String(100), nullable=False),
    Column("transport", String(40), nullable=False),
    Column("line_no", Integer, nullable=True),
    Column("first_page", Integer, nullable=False),
    Column("outcome", String(20), nullable=True),
    Column("t30_code", Integer, nullable=True),
    Column("t30_text", Text, nullable=True),
    Column("pages_sent", Integer, nullable=False, server_default="0"),
    Column("pages_confirmed", Integer, nullable=False, server_default="0"),
    Column("pages_total", Integer, nullable=False, server_default="0"),
    Column("modem", String(20), nullable=True),
    Column("bit_rate", Integer, nullable=True),
    Column("ecm", Boolean, nullable=True),
    Column("compression", String(10), nullable=True),
    Column("remote_csid", String(40), nullable=True),
    Column("line_seconds", Float, nullable=True),
    Column("wall_seconds", Float, nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("dialing_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
)

lines = Table(
    "lines",
    metadata,
    Column("transport", String(40), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("holder", String(100), nullable=True),
    Column("job_id", Integer, nullable=True),
    Column("number", String(40), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
)

# Delivery reports waiting for (or accepted by) the mail relay: at most one per submission, kind
# and ref (ref tells per-attempt notices apart; "" for the final and the rejection report).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(12), nullable=False),
    Column("ref", String(60), nullable=False, server_default=""),
    Column("state", String(12), nullable=False),  # pending, sent, failed
    Column("message_id", String(250), nullable=True),
    Column("recipient", String(320), nullable=True),
    Column("message", LargeBinary, nullable=True),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("next_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    UniqueConstraint("submission_id", "kind", "ref"),
    Index("ix_outbox_state_next_at", "state", "next_at"),
    _leased("outbox"),
)


# Idempotency-Key of POST /api/v1/faxes: the same key and body within 24 h give the same fax.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "key"),
)


# Labels of a fax (POST /api/v1/faxes ``labels``): free key/value pairs a program filters by.
submission_labels = Table(
    "submission_labels",
    metadata,
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
    Index("ix_submission_labels_key_value", "key", "value"),
)

# An account's webhook endpoints: where its fax events are POSTed, signed with ``secret``.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("events", String(500), nullable=False),  # space-separated event types, or "*"
    Column("secret", String(100), nullable=False),  # whsec_<base64>
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_webhooks_account_id", "account_id"),
)

# One event for one endpoint, waiting for (or accepted by) it: the webhook outbox. ``body`` is
# fixed when the event happens, so every retry sends the same bytes under the same ``msg_id``.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("msg_id", String(40), nullable=False, unique=True),
    Column("event", String(40), nullable=False),
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("job_id", Integer, nullable=True),
    Column("body", Text, nullable=False),
    Column("state", String(12), nullable=False),  # pending, sent, failed
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("next_at", UTCDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Index("ix_webhook_deliveries_state_next_at", "state", "next_at"),
    _leased("webhook_deliveries"),
    Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    Index("ix_webhook_deliveries_submission_id", "submission_id"),
    # the received fax of a fax.received / fax.receive.failed event (no foreign key, as
    # job_id: a plain ADD COLUMN on every engine)
    Column("inbound_id", Integer, nullable=True),
    Index("ix_webhook_deliveries_inbound_id", "inbound_id"),
)


# An account's address book: contacts (a name and a fax number as typed) and named groups of
# them, used when sending from the web console.
contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("number", String(64), nullable=False),
    Column("company", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_contacts_account_id_name", "account_id", "name"),
)

contact_groups = Table(
    "contact_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "name", name="uq_contact_groups_account_id_name"),
)

contact_group_members = Table(
    "contact_group_members",
    metadata,
    Column(
        "group_id",
        Integer,
        ForeignKey("contact_groups.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_group_members_contact_id", "contact_id"),
)

# Logins the throttle locked (faxout.intake.auth): written when a lock starts (rare), so an
# operator sees every worker's locks and can lift them; the check itself stays in memory.
login_locks = Table(
    "login_locks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(40), nullable=False),
    Column("client_addr", String(64), nullable=False),
    Column("locked_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=False),
    Index("ix_login_locks_username", "username"),
)

# Keys the servers share through the database (the web console's session key): made by the
# first server that needs one, read by every other.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# Where received faxes go (faxout.inbound): an account's inbox, or a shared one (account_id
# NULL) that operators see. ``email``: addresses the faxes are mailed to, one per line ("" :
# the owner's address; none for a shared inbox without one). ``attach``: pdf, tiff, or link
# (privacy: no attachment, a link to the console).
inboxes = Table(
    "inboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("email", Text, nullable=False, server_default=""),
    Column("attach", String(8), nullable=False, server_default="pdf"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_inboxes_account_id", "account_id"),
)

# Routing rules, tried by ``position`` (then id): the first whose patterns all match the call
# picks the inbox. An empty pattern matches anything (faxout.inbound.routing).
inbound_routes = Table(
    "inbound_routes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("inbox_id", Integer, ForeignKey("inboxes.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("called", String(64), nullable=False, server_default=""),
    Column("caller", String(64), nullable=False, server_default=""),
    Column("csid", String(64), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_inbound_routes_position", "position"),
)

# Senders refused before answer (SIP 603): an account's block list, or every inbox's when
# account_id is NULL.
inbound_blocks = Table(
    "inbound_blocks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("caller", String(64), nullable=False),
    Column("note", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_inbound_blocks_account_id", "account_id"),
)

# Received faxes: one row per incoming call, written when the call is answered (``receiving``)
# and kept up to date page by page, so a receiver killed mid-call leaves a row that recovery
# finishes as ``partial``. ``(transport, call_ref)`` is unique: a fax seen twice (a HylaFAX
# queue scanned again, a retransmitted INVITE) is stored once.
inbound_faxes = Table(
    "inbound_faxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("inbox_id", Integer, ForeignKey("inboxes.id", ondelete="RESTRICT"), nullable=False),
    Column("transport", String(40), nullable=False),
    Column("call_ref", String(200), nullable=False),
    Column("state", String(12), nullable=False),  # receiving, received, partial, failed
    Column("caller", String(64), nullable=False, server_default=""),
    Column("caller_name", String(200), nullable=False, server_default=""),
    Column("csid", String(40), nullable=False, server_default=""),
    Column("called", String(64), nullable=False, server_default=""),
    Column("pages", Integer, nullable=False, server_default="0"),
    Column("resolution", String(16), nullable=False, server_default=""),
    Column("bit_rate", Integer, nullable=True),
    Column("ecm", Boolean, nullable=True),
    Column("compression", String(10), nullable=True),
    Column("line_seconds", Float, nullable=True),
    Column("t30_code", Integer, nullable=True),
    Column("t30_text", Text, nullable=False, server_default=""),
    Column("notes", Text, nullable=False, server_default="[]"),
    Column("spool_path", String(500), nullable=True),
    Column("blob_key", String(200), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("receiver", String(100), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("read_at", UTCDateTime(), nullable=True),
    Column("archived_at", UTCDateTime(), nullable=True),
    Column("purged_at", UTCDateTime(), nullable=True),
    UniqueConstraint("transport", "call_ref"),
    Index("ix_inbound_faxes_inbox_id_started_at", "inbox_id", "started_at"),
    Index("ix_inbound_faxes_state", "state"),
    # retention's search: the faxes not purged yet, oldest first
    Index("ix_inbound_faxes_purged_at_finished_at", "purged_at", "finished_at"),
    Index("ix_inbound_faxes_blob_key", "blob_key"),  # faxout.db.blobrefs
)

# Fax-to-email: one mail per received fax, waiting for (or accepted by) the relay, with the
# same leases and retries as the reports' outbox (faxout.report.inboundmail).
inbound_mails = Table(
    "inbound_mails",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "inbound_id",
        Integer,
        ForeignKey("inbound_faxes.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("state", String(12), nullable=False),  # pending, sent, failed
    Column("message_id", String(250), nullable=True),
    Column("recipients", Text, nullable=True),
    Column("message", LargeBinary, nullable=True),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("next_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Index("ix_inbound_mails_state_next_at", "state", "next_at"),
    _leased("inbound_mails"),
)
