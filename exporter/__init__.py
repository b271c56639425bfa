"""Prometheus exporter for AWS Backup restore jobs and restore testing."""

__version__ = "0.1.0"
