# Container image of aws-backup-restore-exporter.
#
#   docker build -t aws-backup-restore-exporter .
#   docker run --rm -p 9798:9798 aws-backup-restore-exporter --demo
#   docker run --rm -p 9798:9798 -v "$PWD/config.yaml:/etc/aws-backup-restore-exporter/config.yaml:ro" \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN aws-backup-restore-exporter
#
# Needs BuildKit (the default builder since Docker 23; podman and buildah support it too): the
# runtime stage installs the wheel through a bind mount of the build stage, so the wheel itself
# never lands in a layer. tests/test_container.py replays this file's install steps (the build
# stage's COPY and `pip wheel`, the runtime stage's ENV and `pip install`) in a fresh venv and
# starts the exporter from it: keep those steps plain RUN/COPY/ENV lines it can read.

# ---- build: the wheel, nothing else --------------------------------------------------------
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps -w /dist .

# ---- runtime: the same base, only the installed wheel -------------------------------------
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="aws-backup-restore-exporter" \
      org.opencontainers.image.description="Prometheus exporter for AWS Backup restore jobs and restore testing" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/aws-backup-restore-exporter/aws-backup-restore-exporter"
# MALLOC_ARENA_MAX: glibc gives each thread that allocates an arena of its own, up to 8 per
# core; the exporter's tens of sync and request threads then hold memory freed in one arena that
# another cannot reuse. Two arenas keep RSS close to what is in use (bench/organization.py runs
# the exporter with this environment).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2
# The wheel alone (its dependencies from the index; the build stage writes exactly one wheel,
# --no-deps) is all `docker run IMAGE --demo` needs: the demo's AWS Backup is the package's own
# fake, no moto. pip, setuptools and wheel are removed afterwards: nothing in the image builds or
# installs at run time, and no cache is left (--no-cache-dir).
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    pip install --no-cache-dir --disable-pip-version-check /dist/*.whl \
    && pip uninstall --yes --no-cache-dir --disable-pip-version-check pip setuptools wheel
# nobody:nogroup. The exporter writes no files, so nothing in the image is made writable and the
# root file system can be mounted read-only.
USER 65534:65534
EXPOSE 9798
ENTRYPOINT ["aws-backup-restore-exporter"]
CMD ["--config.file=/etc/aws-backup-restore-exporter/config.yaml"]
