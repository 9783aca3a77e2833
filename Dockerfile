# syntax=docker/dockerfile:1
# tweetstream image: every project process (`tweetstream worker|monitor|trainer|api|ui ...`)
# and the MLflow tracking server (`mlflow server`) run from it.

# --- builder: install the project and its pinned dependencies into a venv ------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only for any dependency without a wheel; they stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first (from pyproject.toml only), so source edits reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install --upgrade pip setuptools wheel \
    && pip install -r requirements.txt

# Then the project itself, as a wheel.
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --no-deps /wheels/*.whl

# --- runtime ------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 tweetstream \
    && useradd --system --uid 10001 --gid tweetstream --home-dir /app \
        --shell /usr/sbin/nologin tweetstream \
    && mkdir -p /app \
    && chown tweetstream:tweetstream /app

COPY --from=builder /opt/venv /opt/venv

# Relative settings paths (.tweetstream, data) resolve under this writable directory.
WORKDIR /app
USER 10001:10001

# Prometheus metrics of `tweetstream worker`; `tweetstream api` (8080) and `tweetstream ui` (7860).
EXPOSE 8000 8080 7860

HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import tweetstream.settings"]

ENTRYPOINT ["tweetstream"]
CMD ["--help"]
