"""The local stack: Kafka, PostgreSQL, S3 (SeaweedFS) and MLflow as local processes.

``tweetstream up`` / ``down`` / ``status`` drive :class:`infra.local.stack.Stack`.
"""

from infra.local.stack import ServiceStatus, Stack

__all__ = ["ServiceStatus", "Stack"]
