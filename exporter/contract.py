"""Every metric family the exporter can expose, in exposition order: the whole contract.

The README's metric table, the alert rules and the dashboard are checked against this list by
the tests, so none of them can name a metric that does not exist or miss one that does.
"""

from __future__ import annotations

from exporter.discovery_families import DISCOVERY_FAMILIES
from exporter.families import Family
from exporter.health_families import BUILD_INFO_FAMILY, TARGET_FAMILIES, WEB_CONFIG_FAMILIES
from exporter.job_families import AGGREGATE_FAMILY, JOB_FAMILIES
from exporter.job_summary_families import JOB_SUMMARY_FAMILIES
from exporter.restore_testing_families import (
    PLAN_FAMILIES,
    PROTECTED_RESOURCE_FAMILY,
    SELECTION_FAMILIES,
    SUCCESS_FAMILY,
)

ALL_FAMILIES: tuple[Family, ...] = (  # type: ignore[type-arg]  # one type per group
    *JOB_FAMILIES,
    AGGREGATE_FAMILY,
    *PLAN_FAMILIES,
    *SELECTION_FAMILIES,
    SUCCESS_FAMILY,
    PROTECTED_RESOURCE_FAMILY,
    *JOB_SUMMARY_FAMILIES,
    *TARGET_FAMILIES,
    *DISCOVERY_FAMILIES,
    *WEB_CONFIG_FAMILIES,
    BUILD_INFO_FAMILY,
)
