"""The predictor API: a thin FastAPI service that serves the champion model (see api.main)."""
