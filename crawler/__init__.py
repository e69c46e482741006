"""triage: polite, safe first-pass triage of public pages for trafficking indicators."""

import sys as _sys

__version__ = "0.1.0"

# Optional glue two libraries import eagerly when an extra is installed, ~40 ms of every start
# (the bench environment's Scrapy brings Twisted): structlog's Twisted integration and httpx's
# command-line client (click, rich, pygments). triage uses neither: both import as if the extra
# were missing (ImportError). Nothing else of either library changes.
for _name in ("structlog.twisted", "httpx._main"):
    _sys.modules.setdefault(_name, None)  # type: ignore[arg-type]
del _name
