"""triage: polite, safe first-pass triage of public pages for trafficking indicators."""

__version__ = "0.1.0"
