"""``python -m teabox.cli``: the same as the ``teabox`` command."""

from teabox.cli.main import main

main()
