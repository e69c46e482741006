"""Benchmarks that print figures (not tests). Run them all with `make bench`."""
