"""`triage` commands: crawl (see crawler/cli/__init__.py)."""
