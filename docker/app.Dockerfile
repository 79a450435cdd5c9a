# The control room's image: the Streamlit app and the CLI (flows and the API reuse it later).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RAKUTEN_VAR_DIR=/srv/control-room/var
WORKDIR /srv/control-room

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY pyproject.toml .
COPY core core
COPY app app
COPY .streamlit .streamlit
RUN pip install --no-deps .

EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["sh", "-c", "python -m core.cli data import --if-empty && streamlit run app/Home.py --server.port 8501 --server.address 0.0.0.0"]
