"""`triage` commands: networks (see crawler/cli/__init__.py)."""
