"""The canary share in one API process: how many requests the challenger answers.

The share lives in the control room's database (:mod:`core.shadow.canary`), set from the Training
page; every worker reads it in its check cycle (poll, reload, reload signal), so a change applies
at once when the app asks for a reload. A read that fails keeps the share last read: a database
that does not answer is not a decision to start or stop a canary.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from sqlalchemy import Engine

from core.db.errors import describe_error
from core.shadow.canary import canary_share

log = logging.getLogger("api.canary")


class Canary:
    """The canary share this process applies, re-read by :meth:`refresh`."""

    def __init__(
        self, engine: Engine, default: float, sample: Callable[[], float] = random.random
    ) -> None:
        self._engine = engine
        self._default = default  # RAKUTEN_CANARY_SHARE, until someone sets it in the app
        self._sample = sample
        self.share = default
        self.last_error: str | None = None

    def refresh(self) -> None:
        """Read the share in force now (the last one set, else the setting)."""
        try:
            with self._engine.connect() as conn:
                share = canary_share(conn, self._default).share
        except Exception as exc:  # noqa: BLE001 - the share last read stays in force
            if self.last_error is None:
                log.warning("cannot read the canary share (%s): keeping %g", exc, self.share)
            self.last_error = describe_error(exc)
            return
        if share != self.share:
            log.info(
                "canary share: %g of requests answered by the challenger (was %g)",
                share,
                self.share,
            )
        self.share, self.last_error = share, None

    def chosen(self) -> bool:
        """Whether this request goes to the challenger (drawn with the share's probability)."""
        return self.share > 0 and self._sample() < self.share
