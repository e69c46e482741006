"""`triage` commands: eval (see crawler/cli/__init__.py)."""
