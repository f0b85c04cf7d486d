# syntax=docker/dockerfile:1
# One image for every streamrec process; the argument picks the command:
#   docker run IMAGE                 -> streamrec api (the default)
#   docker run IMAGE stream | train --interval 300 | topics | replay --generate 20000
# Never built on the project's own machines (no Docker engine there): tests/unit/test_compose*.py
# check it against the code without one. See README.md "Docker Compose".

# Both stages must use the same base: the venv's interpreter links to /usr/local/bin/python.
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install "pip==25.3"
WORKDIR /src

# Dependencies get their own layer, so editing the source does not reinstall numpy & co.
# Every pinned runtime dependency has a manylinux x86_64 wheel: no compiler is needed. (On arm64
# faust-streaming has none; its sdist then installs without its optional C speed-ups.)
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print(*deps, sep='\n')" > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -c constraints.txt -r /tmp/requirements.txt

# The project itself: a regular (non-editable) install, without the dev extras.
COPY README.md ./
COPY ingest ./ingest
COPY stream ./stream
COPY recommender ./recommender
COPY api ./api
RUN /opt/venv/bin/pip install -c constraints.txt .


FROM python:3.11-slim-bookworm

# implicit's compiled ALS links the system OpenMP runtime (libgomp.so.1), which slim lacks.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# /models is created here, owned by the app user: an empty named volume mounted on it copies
# that ownership, so the trainer can write model versions without running as root.
RUN groupadd --system --gid 10001 streamrec \
    && useradd --system --uid 10001 --gid streamrec --create-home --home-dir /home/streamrec \
        --shell /usr/sbin/nologin streamrec \
    && mkdir /models \
    && chown streamrec:streamrec /models

# The venv holds streamrec itself (installed, not editable) and its runtime dependencies only:
# no source tree, compiler, dev extras or build context in this stage.
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAMREC_MODEL_DIR=/models \
    STREAMREC_API_HOST=0.0.0.0

# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8000

# Meaningful for the api command only; compose replaces it for the other services. The port is
# the API's own setting (STREAMREC_API_PORT, else a platform's PORT, else 8000).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; from ingest.settings import load_settings; urllib.request.urlopen('http://127.0.0.1:%d/healthz' % load_settings().api_port, timeout=4)"]

ENTRYPOINT ["streamrec"]
CMD ["api"]
