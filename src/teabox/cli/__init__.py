"""The ``teabox`` command line."""
