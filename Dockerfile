# Image for the collections worker (`python worker.py`). docker-compose.yml builds it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json

# Run as a non-root user that owns /app, in case the worker writes scratch files there.
RUN useradd --create-home --uid 10001 app
WORKDIR /app

# The whole repo is copied, not just the installed package: worker.py runs from here, and
# the migrations the worker applies at start live in the repo.
COPY --chown=app:app . .
RUN pip install .

# The handoff volume (print vendor's batches, agencies' files) mounts here; a new volume takes this owner.
RUN mkdir -p /var/collections && chown app:app /var/collections

USER app
CMD ["python", "worker.py"]
