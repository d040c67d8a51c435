"""``python -m faxout`` is the ``faxout`` command."""

from faxout.ops.cli import main

main()
