"""The database: the tables (``tables``), the engine for SQLite or PostgreSQL with the write
``transaction`` and the ``reading`` connection that turn every driver error into
``DatabaseError`` (``engine``), and the Alembic migrations (``migrate``, ``migrations/``)."""
