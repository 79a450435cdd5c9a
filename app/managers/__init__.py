"""The only code that talks to outside services; each manager returns the project's own types."""
