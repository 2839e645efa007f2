"""Runnable example relying parties of the provider (not part of the ``idp`` package)."""
