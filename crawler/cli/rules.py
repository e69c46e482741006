"""`triage` commands: rules (see crawler/cli/__init__.py)."""
