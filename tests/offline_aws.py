"""The environment that keeps boto3 off real AWS: fake static credentials, no metadata service,
no config files, no profile or role that could send a request elsewhere. Shared by the tests'
autouse fixture and the benchmarks' exporter processes."""

from __future__ import annotations

import os
from collections.abc import Mapping

OFFLINE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
UNSET_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
# What Prometheus 2.x sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def offline_environ(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """``base`` (e.g. os.environ) made offline, plus ``extra``: for a child process."""
    env = {**base, **OFFLINE_AWS_ENV, **extra}
    for name in UNSET_AWS_ENV:
        env.pop(name, None)
    return env
