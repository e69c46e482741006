"""HTTP API and review pages (FastAPI). Import `crawler.api.app.create_app` to build the app.

Kept import-free so that `crawler.api.metrics` can be used by the pipeline without pulling in
FastAPI.
"""
