"""A local AWS Backup endpoint for ``--demo`` and the tests: moto plus the restore-job API it lacks.

Only imported when asked for, so the exporter itself never needs moto.
"""
