"""The exception tree of faxout.

Exceptions mean breakage; expected outcomes (a busy line, a refused login, a document that cannot
be rendered) are values. A foreign library's exceptions are translated where that library is
called, into one of these, so callers only ever catch faxout's own classes::

    FaxoutError
    ├── ConfigError          settings or config file invalid
    ├── StorageError         the document store failed (disk full, permissions)
    ├── DatabaseError        the database failed or is unreachable
    ├── RenderError          a renderer broke (not: a document was refused — that is a value)
    └── TransportError       a transport broke (not: busy / no answer — those are outcomes)
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
