"""`python -m crawler ...` is the same as `triage ...`."""

from crawler.cli import main

main()
