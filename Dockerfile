# holdspace in a container: non-root, read-only root filesystem, everything it keeps under /data.
# Build: docker build -t holdspace .    Run: see compose.yaml and docs/operations.md.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/holdspace
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
COPY migrations ./migrations
# Installed in place: holdspace finds its migrations next to its code. Compiled to bytecode here: the
# running image writes none (read-only, PYTHONDONTWRITEBYTECODE), so without it every start compiles
# holdspace and its libraries again before it can enforce. Unchecked hashes: COPY may change file times.
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -e . \
    && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/holdspace/bot /opt/holdspace/cogs /opt/venv/lib

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="holdspace" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin holdspace \
    && mkdir -m 0700 /data && chown holdspace:holdspace /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/holdspace /opt/holdspace
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOLDSPACE_CONFIG=/data/config.toml
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=15s --start-period=90s --retries=3 CMD ["holdspace", "health"]
ENTRYPOINT ["holdspace"]
CMD ["run"]
