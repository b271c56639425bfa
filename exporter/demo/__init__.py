"""``--demo`` and the tests' and benchmarks' AWS: a fake AWS Backup built from botocore's service
model (``fake_backup``), and the demo's moving restore jobs on it (``scenario``, ``endpoint``).

Only imported when asked for; it needs nothing beyond the exporter's own dependencies.
"""
