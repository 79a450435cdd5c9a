"""Session-state keys, declared in one place and prefixed by page. UI state only."""

from __future__ import annotations

# Dataset page
DATASET_SEEN_STAGE_BP = "dataset_seen_stage_bp"  # stage shown to the user, guards double clicks
DATASET_FLASH = "dataset_flash"  # message of the last action, shown once after a rerun
DATASET_SEARCH = "dataset_search"
DATASET_SEARCH_CODE = "dataset_search_code"
DATASET_SEARCH_SCOPE = "dataset_search_scope"
DATASET_PAGE = "dataset_page"
DATASET_TAB = "dataset_tab"
DATASET_SOURCE = "dataset_source"
DATASET_REPLACE = "dataset_replace"
DATASET_RESET_CONFIRM = "dataset_reset_confirm"
DATASET_BUILTIN_ROWS = "dataset_builtin_rows"

# Training page
TRAINING_PRESET = "training_preset"
TRAINING_AUTO_PROMOTE = "training_auto_promote"
TRAINING_RUN_ID = "training_run_id"  # the flow run this session started and follows
TRAINING_FLASH = "training_flash"
TRAINING_RUNS = "training_runs"  # selection in the runs table
TRAINING_FORCE_REASON = "training_force_reason"
LIVE_WINDOW = "live_window"  # the live comparison's window
CANARY_PERCENT = "canary_percent"
CANARY_CONFIRM = "canary_confirm"

# Predictions page
PREDICT_EXAMPLE = "predict_example"
PREDICT_DESIGNATION = "predict_designation"
PREDICT_DESCRIPTION = "predict_description"
PREDICT_LAST = "predict_last"  # the last PredictionResult, kept for the feedback form
PREDICT_PRODUCT = "predict_product"  # what it was asked about (highlighted by its explanation)
PREDICT_BATCH = "predict_batch"  # the last batch's results
PREDICT_UPLOAD = "predict_upload"  # the CSV uploaded for a batch
PREDICT_FLASH = "predict_flash"
PREDICT_FILTER_CODE = "predict_filter_code"
PREDICT_FILTER_SEARCH = "predict_filter_search"
PREDICT_FILTER_WINDOW = "predict_filter_window"
PREDICT_HISTORY_EDITOR = "predict_history_editor"

# Monitoring page
MONITOR_RUN_ID = "monitor_run_id"  # the monitor flow run this session started and follows
MONITOR_FLASH = "monitor_flash"
MONITOR_REPORT = "monitor_report"  # the drift run whose report is shown
MONITOR_SCRAPES = "monitor_scrapes"  # the API /metrics reads of this session, oldest first
MONITOR_AUTO = "monitor_auto"

# Infrastructure page
INFRA_FLASH = "infra_flash"
INFRA_SERVICE = "infra_service"  # the service the controls and the log viewer are on
INFRA_LOG_LINES = "infra_log_lines"
INFRA_CONFIRM = "infra_confirm"  # prefix of the confirmation buttons' keys
INFRA_LOCAL = "infra_local"  # the person chose local mode because the Docker engine is down

# Access page
ACCESS_FLASH = "access_flash"
ACCESS_PRINCIPAL = "access_principal"
ACCESS_ROLE = "access_role"
ACCESS_REMOVE = "access_remove"  # the assignment chosen for removal
ACCESS_REMOVE_CONFIRM = "access_remove_confirm"

# Audit page
AUDIT_PERSON = "audit_person"
AUDIT_ACTION = "audit_action"
AUDIT_OUTCOME = "audit_outcome"
AUDIT_SINCE = "audit_since"
