"""The top layer: the ``faxout`` command (``cli``, ``commands/``), the settings file
(``settings``), the assembled services (``gateway``), the HTTP app wired to them (``serve``) and
the background pipeline wired from the subsystems (``runtime``), plus ``check``, ``banner``,
``logs`` and ``demo``. Nothing below imports from here (``lint-imports`` checks it)."""
