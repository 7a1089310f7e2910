"""Comparison, tables, reports and the ``backprop-parity`` command."""
