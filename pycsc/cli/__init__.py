"""Command line: ``csc`` / ``pycsc`` with one module per sub-command."""
