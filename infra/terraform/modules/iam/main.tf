# One task role per ECS service with only what that service touches, plus one execution role
# (image pull, log delivery, injecting the database secret).
#
#   service | Kafka (MSK IAM)                                   | S3                        | DB secret
#   worker  | read raw (group worker); write classified, dlq    | archive/<prefix>/* rw     | via execution role
#   monitor | write retrain, alerts                             | reports rw                | via execution role
#   trainer | read retrain, labels (group trainer)              | -  (artifacts via MLflow) | via execution role
#   mlflow  | -                                                 | mlflow rw                 | via execution role
#   ops     | create/describe/alter the project topics          | -                         | via execution role
#   api, ui | write raw (POST /tweets; /readyz describes it)    | -  (model via MLflow)     | via serving execution role
#
# The api and ui tasks have their own execution role: it is the only role that may read the
# API tokens secret (and, like the shared one, the database secret).
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  topic_arn = { for k, t in var.topics : k => "${var.msk_topic_arn_prefix}/${t}" }
  group_arn = { for k, g in var.consumer_groups : k => "${var.msk_group_arn_prefix}/${g}" }
  s3_via    = "s3.${data.aws_region.current.name}.amazonaws.com"
  services  = toset(["worker", "monitor", "trainer", "mlflow", "ops", "api", "ui"])
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Confused-deputy guard: only tasks of this account may assume the roles.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# --- execution role -------------------------------------------------------------------
resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }
  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${var.log_group_prefix}/*:*"]
  }
  statement {
    sid       = "DbSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }
  statement {
    sid       = "DecryptSecretAndImage"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "secretsmanager.${data.aws_region.current.name}.amazonaws.com",
        "ecr.${data.aws_region.current.name}.amazonaws.com",
      ]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-logs-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- execution role of the api and ui tasks ---------------------------------------------
# The shared role's permissions plus the API tokens secret, so no other task definition can
# be given the tokens.
resource "aws_iam_role" "serving_execution" {
  name               = "${var.name}-ecs-serving-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(var.tags, { Service = "api-ui" })
}

data "aws_iam_policy_document" "serving_execution" {
  source_policy_documents = [data.aws_iam_policy_document.execution.json]

  statement {
    sid       = "ApiTokensSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.api_tokens_secret_arn]
  }
}

resource "aws_iam_role_policy" "serving_execution" {
  name   = "pull-logs-secrets-api-tokens"
  role   = aws_iam_role.serving_execution.id
  policy = data.aws_iam_policy_document.serving_execution.json
}

# --- task roles -----------------------------------------------------------------------
resource "aws_iam_role" "task" {
  for_each           = local.services
  name               = "${var.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(var.tags, { Service = each.key })
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk_cluster_arn]
  }
  statement {
    sid       = "KafkaReadRaw"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [local.topic_arn["raw"]]
  }
  statement {
    sid       = "KafkaWriteResults"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.topic_arn["classified"], local.topic_arn["dlq"]]
  }
  statement {
    sid       = "KafkaGroup"
    actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
    resources = [local.group_arn["worker"]]
  }
  statement {
    sid       = "ArchiveObjects"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.bucket_arns["archive"]}/${var.archive_prefix}/*"]
  }
  statement {
    sid       = "ArchiveList"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arns["archive"]]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.archive_prefix}/*"]
    }
  }
  statement {
    sid       = "ArchiveKms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

data "aws_iam_policy_document" "monitor" {
  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk_cluster_arn]
  }
  statement {
    sid       = "KafkaWriteRetrainAlerts"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.topic_arn["retrain"], local.topic_arn["alerts"]]
  }
  statement {
    sid       = "ReportObjects"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.bucket_arns["reports"]}/*"]
  }
  statement {
    sid       = "ReportList"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arns["reports"]]
  }
  statement {
    sid       = "ReportKms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

data "aws_iam_policy_document" "trainer" {
  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.msk_cluster_arn]
  }
  statement {
    sid       = "KafkaReadRetrainAndLabels"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [local.topic_arn["retrain"], local.topic_arn["labels"]]
  }
  statement {
    sid       = "KafkaGroup"
    actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
    resources = [local.group_arn["trainer"]]
  }
}

data "aws_iam_policy_document" "mlflow" {
  statement {
    sid       = "ArtifactObjects"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arns["mlflow"]}/*"]
  }
  statement {
    sid       = "ArtifactList"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arns["mlflow"]]
  }
  statement {
    sid       = "ArtifactKms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

data "aws_iam_policy_document" "ops" {
  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.msk_cluster_arn]
  }
  statement {
    sid = "KafkaManageProjectTopics"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:AlterTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
    ]
    resources = values(local.topic_arn)
  }
}

# api and ui run the same app (the UI is the API plus its page): both publish tweets that
# arrive over HTTP (idempotent producer) and describe the raw topic in /readyz.
data "aws_iam_policy_document" "serving" {
  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk_cluster_arn]
  }
  statement {
    sid       = "KafkaWriteRaw"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.topic_arn["raw"]]
  }
}

locals {
  task_policies = {
    worker  = data.aws_iam_policy_document.worker.json
    monitor = data.aws_iam_policy_document.monitor.json
    trainer = data.aws_iam_policy_document.trainer.json
    mlflow  = data.aws_iam_policy_document.mlflow.json
    ops     = data.aws_iam_policy_document.ops.json
    api     = data.aws_iam_policy_document.serving.json
    ui      = data.aws_iam_policy_document.serving.json
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.services
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.task[each.key].id
  policy   = local.task_policies[each.key]
}
