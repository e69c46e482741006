"""`triage` commands: serve (see crawler/cli/__init__.py)."""
