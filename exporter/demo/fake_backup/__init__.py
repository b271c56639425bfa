"""A fake AWS Backup, faithful to botocore's service model, shared by ``--demo``, the tests and
the benchmarks. It needs nothing but botocore (no moto). The same endpoint serves the Account
API's ListRegions and GetRegionOptStatus (what moto lacks), for requests whose SigV4 credential
scope is ``account``.

- ``store``: the restore jobs of every (account, region), and the helpers that change them;
  ``fields``, ``query`` and ``lifecycle``: what a job is, what ListRestoreJobs' filters and
  cursor mean, how a job moves through its states.
- ``testing_store`` and ``testing_rules``: restore testing plans and selections, with the rules
  and defaults AWS documents; ``protected``: protected resources, their restore fields derived
  from the jobs; ``records``: their fields checked against the model's shapes.
- ``accounts``: the Account API's state, each account's Region opt-in statuses and the
  organisation (who may name which account); ``account_operations``: its handlers.
- ``model``, ``routes``, ``params``, ``constraints``, ``encode``, ``errors``, ``sigv4``: the wire
  layer, driven by each service's model: which service (the credential scope) and operation a
  request is, its input by location, the model's constraints, the output and error bodies, and
  who is calling from where (``sigv4.sts_accounts``: accounts as moto's STS issued the keys).
- ``operations``: the restore-job handlers (StartRestoreJob, DescribeRestoreJob,
  ListRestoreJobs); the seam where more operations plug in. ``testing_operations``: the restore
  testing plan and selection operations, DescribeProtectedResource and ListProtectedResources.
  ``api`` ties the above together.
- ``server`` (``FakeBackup``): the HTTP server, with latency, injected faults and counters
  (``accounting``); ``generator``: the benchmarks' seeded job population and its churn.
"""

from exporter.demo.fake_backup.accounts import AccountRegistry
from exporter.demo.fake_backup.generator import JobChurn, generate_jobs, plan_arns
from exporter.demo.fake_backup.protected import ProtectedResourceStore
from exporter.demo.fake_backup.server import FakeBackup
from exporter.demo.fake_backup.sigv4 import (
    DEFAULT_ACCOUNT_ID,
    AccountResolver,
    fixed_account,
    sts_accounts,
)
from exporter.demo.fake_backup.store import RestoreJobStore
from exporter.demo.fake_backup.testing_rules import Refused
from exporter.demo.fake_backup.testing_store import RestoreTestingStore

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "AccountRegistry",
    "AccountResolver",
    "FakeBackup",
    "JobChurn",
    "ProtectedResourceStore",
    "Refused",
    "RestoreJobStore",
    "RestoreTestingStore",
    "fixed_account",
    "generate_jobs",
    "plan_arns",
    "sts_accounts",
]
