"""`triage` commands: queue (see crawler/cli/__init__.py)."""
