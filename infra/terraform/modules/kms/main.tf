# One customer-managed key for the environment: S3 objects, MSK storage, RDS storage,
# Performance Insights, the RDS master-password secret, ECR images and CloudWatch log groups.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  logs_arns    = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: data at rest (S3, MSK, RDS, secrets, ECR, logs)"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  # Key policy: the account administers the key through IAM; CloudWatch Logs may use it only
  # for log groups of this account and region. Services (S3, RDS, MSK, Secrets Manager, ECR)
  # use it on behalf of IAM principals that hold kms:* grants in their own policies.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = local.logs_arns }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
