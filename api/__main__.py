"""``python -m api`` (`make api`, and local mode): serve the API where RAKUTEN_API_URL says."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import uvicorn
from pydantic import ValidationError

from core.settings import describe_settings_error, get_settings


def main() -> int:
    """Run the API under uvicorn on the host and port of ``RAKUTEN_API_URL``."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        sys.exit(describe_settings_error(exc))  # to stderr, exit status 1
    url = urlsplit(settings.api_url)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=url.hostname or "127.0.0.1",
        port=url.port or 8000,
        access_log=False,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
