"""`triage` commands: rescan (see crawler/cli/__init__.py)."""
