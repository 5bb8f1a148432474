# sevbot container image. Build: docker build -t sevbot .   Run: see "Deploy" in README.md.
#
# Two stages: `build` installs the dependencies and sevbot's wheel into a virtualenv at /opt/venv; the runtime stage
# copies only that virtualenv onto a fresh copy of the same base image (no pip cache, no build tools, no source tree).
# The wheel carries templates/, migrations/ and the example runbooks/ to /opt/venv/share/sevbot/ (bot/data.py finds
# them).
#
# Migrations are a separate step, never run on start: `docker run ... sevbot migrate` (compose.yaml runs it as a
# one-shot service). In a rolling upgrade the new release migrates once while the old replicas keep serving.

# The base: any Python 3.11+ image with `python3` on PATH and groupadd/useradd. The official image keeps Python in
# /usr/local/bin, Debian's python3 package in /usr/bin, hence `python3` from PATH below, never a fixed path. Without
# Docker Hub: --build-arg PYTHON_IMAGE=<a mirror's or a locally made image> (docs/deploy.md shows one way). Both
# stages must use the same base: the virtualenv's interpreter is a symlink to the base's python3.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
# Dependencies first, read from pyproject.toml alone: a code change rebuilds only the layers below (cached CI builds).
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && /opt/venv/bin/pip install -r /tmp/requirements.txt
COPY README.md LICENSE ./
COPY bot ./bot
COPY commands ./commands
COPY templates ./templates
COPY runbooks ./runbooks
COPY migrations ./migrations
# The check runs from / so that `bot` is imported from the installed wheel, not from the source tree in /src.
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && /opt/venv/bin/pip install --no-deps /tmp/wheels/sevbot-*.whl \
    && cd / \
    && /opt/venv/bin/python -c "from bot.render import TEMPLATES_DIR; from bot.db.migrate import revision_graph; assert str(TEMPLATES_DIR).startswith('/opt/venv/share/sevbot/'), TEMPLATES_DIR; print('sevbot wheel ok: templates at', TEMPLATES_DIR, '- migrations head', revision_graph()[0])"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SEVBOT_HOST=0.0.0.0 \
    SEVBOT_PORT=3000
# A non-root user; its home is the working directory (the default SQLite file, if you use one, lives there).
RUN groupadd --system --gid 10001 sevbot \
    && useradd --system --uid 10001 --gid sevbot --home-dir /var/lib/sevbot --create-home --shell /usr/sbin/nologin sevbot
COPY --from=build /opt/venv /opt/venv
# Numeric, so that Kubernetes' runAsNonRoot can verify it (a user name it cannot check, and refuses to start).
USER 10001:10001
WORKDIR /var/lib/sevbot
EXPOSE 3000
# GET /healthz is 200 when a declare could be recorded now (database writable, schema usable), else 503.
# Python's urllib rather than curl: the slim image has no curl, and one fewer package to patch.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SEVBOT_PORT', '3000'), timeout=4)"]
ENTRYPOINT ["sevbot"]
CMD ["serve"]
