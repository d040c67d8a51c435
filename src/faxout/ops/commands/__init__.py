"""The gateway's admin commands (``faxout jobs``, ``faxout user``): they work on the data
directory through the gateway, so they sit in the top layer with ``faxout.ops.cli``."""
