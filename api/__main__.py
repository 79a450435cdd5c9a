"""``python -m api`` (`make api`, local mode, the stack): serve the API with every core.

    python -m api                               # on the host and port of RAKUTEN_API_URL
    python -m api --host 0.0.0.0 --port 8000    # the stack's container: every interface

``RAKUTEN_API_WORKERS`` processes (default: one per usable CPU core) serve on one socket; with more
than one, ``api.workers`` prepares what they share before uvicorn starts them. This process stays
uvicorn's parent, the one the supervisor tracks: stopping it (or its process group) stops them all.
"""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

import uvicorn
from pydantic import ValidationError

from api.workers import prepare_shared
from core.settings import describe_settings_error, get_settings

# A worker answers uvicorn's liveness ping from a thread; a model load holding the GIL for a few
# seconds must not get it killed and restarted (uvicorn's default is 5 s).
WORKER_HEALTHCHECK_S = 30


def main(argv: list[str] | None = None) -> int:
    """Run the API under uvicorn on the host and port of ``RAKUTEN_API_URL`` (or those given)."""
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", help="address to listen on (default: RAKUTEN_API_URL's host)")
    parser.add_argument("--port", type=int, help="port to listen on (default: RAKUTEN_API_URL's)")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        sys.exit(describe_settings_error(exc))  # to stderr, exit status 1
    url = urlsplit(settings.api_url)
    workers = settings.api_workers
    if workers > 1:
        os.environ.update(prepare_shared(settings.var_dir))  # inherited by every worker
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host or url.hostname or "127.0.0.1",
        port=args.port or url.port or 8000,
        workers=workers if workers > 1 else None,  # None: serve in this very process
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        access_log=False,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
