"""The challenger against the champion on live traffic: agreement, latency, feedback accuracy.

Each request the API logged (``inference_log``, the answer) may have the other model's prediction
beside it (``shadow_predictions``): the challenger's while the champion answers, the champion's
while a canary request was answered by the challenger. Read together over a window they say how
the challenger would have done on today's traffic — where it disagrees, how fast it is, and, on
the requests people gave feedback on, which of the two was right more often, with a confidence
interval so that a dozen labels are not read as proof.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, and_, func, select

from core.data.categories import CATEGORY_BY_CODE
from core.db.tables import inference_log, prediction_feedback, shadow_predictions
from core.registry import CHALLENGER

Z95 = 1.959964  # two-sided 95 %
MAX_PAIRS = 200_000  # the most recent pairs read for one comparison
LIVE_MIN_LABELLED = 30  # labelled requests the live gate needs before it judges

_COLUMNS = (
    "request_id",
    "at",
    "designation",
    "description",
    "served_code",
    "served_probability",
    "served_version",
    "served_latency_ms",
    "served_alias",
    "other_code",
    "other_probability",
    "other_version",
    "other_latency_ms",
    "other_alias",
    "true_code",
)


_KINDS = (
    ("code", "int64"),
    ("probability", "float64"),
    ("version", "int64"),
    ("latency_ms", "float64"),
)


@dataclass(frozen=True, slots=True)
class Interval:
    """A 95 % confidence interval."""

    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds of one model's predictions in the window."""

    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class LiveComparison:
    """The champion and one challenger version on the same live requests.

    ``champion_right`` / ``challenger_right`` count the labelled requests each got right;
    ``only_challenger`` / ``only_champion`` the ones where exactly one of them did (the pairs
    that decide between them).
    """

    since: datetime
    until: datetime | None
    challenger_version: int | None
    champion_versions: tuple[int, ...]
    pairs: int
    agreement: float | None
    per_class: pd.DataFrame  # code, category, requests, agreement (by the champion's answer)
    disagreements: pd.DataFrame  # the most confident disagreements first
    champion_latency: Latency
    challenger_latency: Latency
    labelled: int
    champion_right: int
    challenger_right: int
    only_challenger: int
    only_champion: int
    truncated: bool  # more than MAX_PAIRS pairs: the most recent were read

    def accuracy(self, challenger: bool) -> float | None:
        """Accuracy on the labelled requests (``None`` without labels)."""
        right = self.challenger_right if challenger else self.champion_right
        return right / self.labelled if self.labelled else None

    def interval(self, challenger: bool) -> Interval | None:
        """Wilson 95 % interval of :meth:`accuracy`."""
        right = self.challenger_right if challenger else self.champion_right
        return wilson(right, self.labelled)

    @property
    def difference(self) -> float | None:
        """Challenger's accuracy minus the champion's, on the same labelled requests."""
        if not self.labelled:
            return None
        return (self.only_challenger - self.only_champion) / self.labelled

    @property
    def difference_interval(self) -> Interval | None:
        """95 % interval of :attr:`difference` for paired answers (normal approximation)."""
        n, b, c = self.labelled, self.only_challenger, self.only_champion
        if not n:
            return None
        spread = Z95 * math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
        return Interval((b - c) / n - spread, (b - c) / n + spread)

    def evidence(self) -> str:
        """One sentence on what the labelled requests show, small samples said as such."""
        if not self.labelled:
            return "no feedback on these requests yet: mark true categories on the Predictions page"
        interval = self.difference_interval
        assert interval is not None and self.difference is not None
        said = (
            f"on {self.labelled} labelled request(s) the challenger is "
            f"{100 * self.difference:+.1f} points against the champion "
            f"(95 % CI {100 * interval.low:+.1f} to {100 * interval.high:+.1f})"
        )
        if self.labelled < LIVE_MIN_LABELLED:
            return f"{said}: too few labels to tell (at least {LIVE_MIN_LABELLED})"
        if interval.low > 0:
            return f"{said}: better"
        if interval.high < 0:
            return f"{said}: worse"
        return f"{said}: no clear difference"


def wilson(successes: int, trials: int) -> Interval | None:
    """Wilson score 95 % interval of a proportion (``None`` for no trials)."""
    if trials <= 0:
        return None
    p, z2 = successes / trials, Z95 * Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def compare(
    conn: Connection,
    *,
    since: datetime,
    until: datetime | None = None,
    challenger_version: int | None = None,
    disagreements: int = 20,
) -> LiveComparison:
    """The champion against ``challenger_version`` (default: the latest challenger seen) on the
    requests logged in ``[since, until)`` that have both predictions."""
    frame = _pairs(conn, since, until)
    truncated = len(frame) >= MAX_PAIRS
    frame = _oriented(frame)
    if challenger_version is None and not frame.empty:
        challenger_version = int(frame.sort_values("at")["challenger_version"].iloc[-1])
    frame = frame[frame["challenger_version"] == challenger_version]
    agree = frame["champion_code"] == frame["challenger_code"]
    labelled = frame[frame["true_code"].notna()]
    champion_ok = labelled["champion_code"] == labelled["true_code"]
    challenger_ok = labelled["challenger_code"] == labelled["true_code"]
    return LiveComparison(
        since=since,
        until=until,
        challenger_version=challenger_version,
        champion_versions=tuple(sorted(int(v) for v in frame["champion_version"].unique())),
        pairs=len(frame),
        agreement=float(agree.mean()) if len(frame) else None,
        per_class=_per_class(frame, agree),
        disagreements=_disagreements(frame[~agree], disagreements),
        champion_latency=_latency(frame["champion_latency_ms"]),
        challenger_latency=_latency(frame["challenger_latency_ms"]),
        labelled=len(labelled),
        champion_right=int(champion_ok.sum()),
        challenger_right=int(challenger_ok.sum()),
        only_challenger=int((challenger_ok & ~champion_ok).sum()),
        only_champion=int((champion_ok & ~challenger_ok).sum()),
        truncated=truncated,
    )


def _pairs(conn: Connection, since: datetime, until: datetime | None) -> pd.DataFrame:
    log, shadow, feedback = inference_log.c, shadow_predictions.c, prediction_feedback.c
    window = log.at >= since if until is None else and_(log.at >= since, log.at < until)
    joined = inference_log.join(shadow_predictions, shadow.request_id == log.request_id).outerjoin(
        prediction_feedback, feedback.request_id == log.request_id
    )
    query = (
        select(
            log.request_id,
            log.at,
            log.designation,
            log.description,
            log.predicted_code,
            log.probability,
            log.model_version,
            log.latency_ms,
            func.coalesce(log.served_alias, "champion"),
            shadow.predicted_code,
            shadow.probability,
            shadow.model_version,
            shadow.latency_ms,
            shadow.alias,
            feedback.true_code,
        )
        .select_from(joined)
        .where(window)
        .order_by(log.id.desc())
        .limit(MAX_PAIRS)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=list(_COLUMNS))
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    numbers = {f"{side}_{field}": kind for side in ("served", "other") for field, kind in _KINDS}
    return frame.astype(numbers)  # also when empty (no rows: object columns)


def _oriented(frame: pd.DataFrame) -> pd.DataFrame:
    """Each pair as champion_* and challenger_* columns, whichever of the two answered."""
    canary = frame["served_alias"] == CHALLENGER  # the challenger answered, the champion shadowed
    out = pd.DataFrame(
        {
            "request_id": frame["request_id"],
            "at": frame["at"],
            "designation": frame["designation"],
            "description": frame["description"],
            "true_code": frame["true_code"].astype("Int64"),
            "canary": canary,
        }
    )
    for field in ("code", "probability", "version", "latency_ms"):
        served, other = frame[f"served_{field}"], frame[f"other_{field}"]
        out[f"champion_{field}"] = np.where(canary, other, served)
        out[f"challenger_{field}"] = np.where(canary, served, other)
    return out


def _per_class(frame: pd.DataFrame, agree: pd.Series) -> pd.DataFrame:
    grouped = (
        pd.DataFrame({"code": frame["champion_code"].astype(int), "agree": agree})
        .groupby("code")["agree"]
        .agg(requests="size", agreement="mean")
        .reset_index()
        .sort_values(["agreement", "requests"], ascending=[True, False])
    )
    grouped.insert(1, "category", [_name(c) for c in grouped["code"]])
    return grouped.reset_index(drop=True)


def _disagreements(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Both sure and still apart first: ordered by the two confidences together."""
    strength = frame["champion_probability"] + frame["challenger_probability"]
    top = frame.assign(strength=strength).nlargest(limit, "strength")
    return pd.DataFrame(
        {
            "request_id": top["request_id"],
            "at": top["at"],
            "designation": top["designation"],
            "champion": [_name(int(c)) for c in top["champion_code"]],
            "champion_probability": top["champion_probability"].astype(float),
            "challenger": [_name(int(c)) for c in top["challenger_code"]],
            "challenger_probability": top["challenger_probability"].astype(float),
            "true_category": [_name(int(c)) if pd.notna(c) else "" for c in top["true_code"]],
        }
    ).reset_index(drop=True)


def _latency(values: pd.Series) -> Latency:
    if values.empty:
        return Latency(None, None)
    p50, p95 = np.percentile(values.astype(float), [50, 95])
    return Latency(float(p50), float(p95))


def _name(code: int) -> str:
    category = CATEGORY_BY_CODE.get(code)
    return category.label_en if category else f"unknown ({code})"
