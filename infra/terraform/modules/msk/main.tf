# Amazon MSK with IAM access control over TLS only (port 9098). Topics are created by the
# application, not here: auto.create.topics.enable stays false.
locals {
  serverless  = var.mode == "serverless"
  provisioned = var.mode == "provisioned"
}

# --- serverless ------------------------------------------------------------------------
resource "aws_msk_serverless_cluster" "this" {
  count        = local.serverless ? 1 : 0
  cluster_name = var.name

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  # MSK Serverless supports IAM only; it always encrypts in transit (TLS) and at rest.
  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }

  tags = var.tags
}

# --- provisioned -----------------------------------------------------------------------
resource "aws_msk_configuration" "this" {
  count          = local.provisioned ? 1 : 0
  name           = var.name
  kafka_versions = [var.kafka_version]
  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "delete.topic.enable=true",
    "default.replication.factor=${min(var.broker_count, 3)}",
    "min.insync.replicas=${var.broker_count >= 3 ? 2 : 1}",
  ])
}

resource "aws_cloudwatch_log_group" "broker" {
  count             = local.provisioned ? 1 : 0
  name              = "/aws/msk/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_msk_cluster" "this" {
  count                  = local.provisioned ? 1 : 0
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = "PER_TOPIC_PER_BROKER"

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = var.security_group_ids

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gb
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = false

    sasl {
      iam = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this[0].arn
    revision = aws_msk_configuration.this[0].latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker[0].name
      }
    }
  }

  tags = var.tags
}

locals {
  cluster_arn = local.serverless ? aws_msk_serverless_cluster.this[0].arn : aws_msk_cluster.this[0].arn
  bootstrap = (local.serverless
    ? aws_msk_serverless_cluster.this[0].bootstrap_brokers_sasl_iam
    : aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam
  )
  # arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> -> .../topic/<name>/<uuid>/<topic>
  topic_arn_prefix = replace(local.cluster_arn, ":cluster/", ":topic/")
  group_arn_prefix = replace(local.cluster_arn, ":cluster/", ":group/")
}
