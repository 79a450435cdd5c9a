"""Deployment names, importable without Prefect (the app triggers them by name over HTTP)."""

from __future__ import annotations

TRAIN_DEPLOYMENT = "train/train"
LOAD_DATA_DEPLOYMENT = "load-data/load-data"
WEEKLY_LOAD_CRON = "0 6 * * 1"  # Mondays 06:00 UTC
MONITOR_DEPLOYMENT = "monitor/monitor"
DAILY_MONITOR_CRON = "0 9 * * *"  # every day 09:00 UTC
