"""One module per local service; each knows how to prepare, start, check and bootstrap itself."""

from infra.local.services.base import LocalService
from infra.local.services.kafka import KafkaService
from infra.local.services.mlflow import MlflowService
from infra.local.services.postgres import PostgresService
from infra.local.services.s3 import S3Service

__all__ = ["KafkaService", "LocalService", "MlflowService", "PostgresService", "S3Service"]
