"""The HTTP API (FastAPI): `create_app(settings)` in `app.py`, one router per resource in
`routes/`, shared dependencies in `deps.py`."""
