"""The exception tree of faxout.

Exceptions mean breakage; expected outcomes (a busy line, a refused login, a document that cannot
be rendered) are values. A foreign library's exceptions are translated where that library is
called, into one of these, so callers only ever catch faxout's own classes::

    FaxoutError
    ├── ConfigError          settings or config file invalid
    ├── StorageError         the document store failed (disk full, permissions)      blobs/*
    ├── DatabaseError        the database failed or is unreachable (reads and writes)
    │                        db.engine.database_errors, via transaction() and reading()
    ├── TaskQueueError       the task queue failed                         taskqueue/port.py
    │   └── UnknownTaskError     a task name nobody registered
    ├── RenderError          a renderer broke (not: a document was refused — that is a value)
    └── TransportError       a transport broke (not: busy / no answer — those are outcomes)
        └── SpandspMissingError  libspandsp cannot be loaded          transmit/spandsp/_lib.py

Not in the tree, on purpose: ``ValueError`` subclasses for input a caller checks and answers
(``InvalidNumberError``, ``AccountError``, ``TagLineError``, ``BadAddressError``, the SIP and
transfer-coding parsers' errors), and exceptions private to one module's control flow (the
renderer's ``Refused``/``PdfRefused``/``OfficeFailed``, the edge's ``BodyError``, the parser's
and the attempt's private ones), which never leave the module that raises them.
"""


class FaxoutError(Exception):
    """Base of every exception faxout raises on purpose."""


class ConfigError(FaxoutError):
    """The configuration (environment, TOML file, CLI flags) is invalid."""


class StorageError(FaxoutError):
    """The document store could not read or write."""


class DatabaseError(FaxoutError):
    """The database failed or could not be reached."""


class RenderError(FaxoutError):
    """A renderer broke while converting a document."""


class TransportError(FaxoutError):
    """A fax transport broke (as opposed to a call ending with an outcome)."""
