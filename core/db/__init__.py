"""Storage: the SQLAlchemy tables and engine shared by the app, the CLI and the flows."""
