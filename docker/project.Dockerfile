# The project's image. The compose stack runs five services from it, each with its own command:
# the Streamlit app (the default CMD), the predictor API, the flows worker, and the MLflow and
# Prefect servers.
FROM python:3.11-slim

# No telemetry or update checks (as in local mode: the stack may have no internet).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT=false \
    RAKUTEN_VAR_DIR=/srv/control-room/var
WORKDIR /srv/control-room

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

# pyproject.toml reads requirements.txt and packages core*, app* and api*.
COPY pyproject.toml .
COPY core core
COPY app app
COPY api api
COPY .streamlit .streamlit
RUN pip install --no-deps .

# Runs as root: the app controls the stack through the mounted Docker socket. Each compose
# service sets its own healthcheck (python's urllib: the slim image has no curl).
# The app's start: import the built-in catalogue into an empty database; when
# BOOTSTRAP_ADMIN_EMAIL is set (the stack sets its identity provider's admin user), make that
# person an admin unless they already have a role (audited, as the OS user); then Streamlit.
EXPOSE 8501
CMD ["sh", "-c", "python -m core.cli data import --if-empty && if [ -n \"$BOOTSTRAP_ADMIN_EMAIL\" ]; then python -m core.cli access grant \"$BOOTSTRAP_ADMIN_EMAIL\" admin --if-unassigned; fi && exec streamlit run app/Home.py --server.port 8501 --server.address 0.0.0.0"]
