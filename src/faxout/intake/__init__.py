"""The HTTP intake: the ASGI app (``app``) with the FaxOut endpoint (``faxout/``: parser,
fields, reply codes), the connection limits in front of it (``edge/``), the login check and its
throttle (``auth``), the group committer that makes accepted submissions durable
(``committer``) and what it is handed to work with (``services``, ``settings``)."""
