"""ARNs of the demo's resources, shaped like AWS's for each resource type, derived from a key (a
job ID, or a fixed name for a resource restored again and again), so a replay gives the same."""

from __future__ import annotations

import hashlib
import re


def resource_arns(resource_type: str, account: str, region: str, key: str) -> tuple[str, str, str]:
    """Recovery point, source and restored resource ARNs shaped like AWS's for that type."""
    name, h = key.removeprefix("demo-"), hashlib.sha256(key.encode()).hexdigest()
    recovery_point = f"arn:aws:backup:{region}:{account}:recovery-point:{h[:8]}-{h[8:12]}"
    ec2, efs = f"arn:aws:ec2:{region}:{account}", f"arn:aws:elasticfilesystem:{region}:{account}"
    rds, table = f"arn:aws:rds:{region}:{account}", f"arn:aws:dynamodb:{region}:{account}:table"
    return {
        "EBS": (f"arn:aws:ec2:{region}::snapshot/snap-{h[:17]}",
                f"{ec2}:volume/vol-{h[:17]}", f"{ec2}:volume/vol-{h[17:34]}"),
        "EFS": (recovery_point, f"{efs}:file-system/fs-{h[:8]}", f"{efs}:file-system/fs-{h[8:16]}"),
        "RDS": (f"{rds}:snapshot:awsbackup:job-{h[:17]}",
                f"{rds}:db:{name}", f"{rds}:db:{name}-restored"),
        "Aurora": (f"{rds}:cluster-snapshot:awsbackup:job-{h[:17]}",
                   f"{rds}:cluster:{name}", f"{rds}:cluster:{name}-restored"),
        "DynamoDB": (f"{table}/{name}/backup/{int(h[:12], 16)}-{h[:8]}",
                     f"{table}/{name}", f"{table}/{name}-restored"),
        "S3": (recovery_point, f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}-restored"),
    }[resource_type]  # fmt: skip


def resource_name(arn: str) -> str:
    """The last part of a resource ARN (a volume ID, a database or bucket name)."""
    return re.split(r"[:/]", arn)[-1]
