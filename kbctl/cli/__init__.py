"""The command line: a thin shell over kbctl's Python API (one module per command)."""
