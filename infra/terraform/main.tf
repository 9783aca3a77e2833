# tweetstream on AWS: network -> KMS -> S3, ECR, MSK, RDS, secrets -> IAM -> ECS.
# One state per environment (backend.tf, envs/<env>.backend.hcl, envs/<env>.tfvars).
data "aws_caller_identity" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  # Container log groups are <prefix>/<task>; the execution role may write only under it.
  log_group_prefix = "/ecs/${local.name}"

  # The application's names: the defaults of tweetstream/settings.py
  # (tests/unit/test_terraform.py keeps them equal).
  topics = {
    raw        = "tweets.raw"
    classified = "tweets.classified"
    dlq        = "tweets.dlq"
    retrain    = "model.retrain"
    labels     = "tweets.labels"
    alerts     = "tweets.alerts"
  }
  worker_group   = "tweetstream-worker"
  archive_prefix = "tweets"

  # TWEETSTREAM_* settings of every project task (worker, monitor, trainer, ops, api, ui).
  app_environment = {
    TWEETSTREAM_KAFKA_BOOTSTRAP         = module.msk.bootstrap_brokers_iam
    TWEETSTREAM_KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
    TWEETSTREAM_KAFKA_SASL_MECHANISM    = "AWS_MSK_IAM"
    TWEETSTREAM_TOPIC_PARTITIONS        = tostring(var.topic_partitions)
    TWEETSTREAM_RAW_TOPIC               = local.topics.raw
    TWEETSTREAM_CLASSIFIED_TOPIC        = local.topics.classified
    TWEETSTREAM_DLQ_TOPIC               = local.topics.dlq
    TWEETSTREAM_RETRAIN_TOPIC           = local.topics.retrain
    TWEETSTREAM_LABELS_TOPIC            = local.topics.labels
    TWEETSTREAM_ALERTS_TOPIC            = local.topics.alerts
    TWEETSTREAM_WORKER_GROUP            = local.worker_group
    TWEETSTREAM_PG_HOST                 = module.rds.address
    TWEETSTREAM_PG_PORT                 = tostring(module.rds.port)
    TWEETSTREAM_PG_DATABASE             = module.rds.database_name
    TWEETSTREAM_MLFLOW_DATABASE         = "mlflow"
    # Empty endpoint = AWS S3 itself; empty keys = the task role's credentials.
    TWEETSTREAM_S3_ENDPOINT_URL = ""
    TWEETSTREAM_S3_REGION       = var.region
    TWEETSTREAM_S3_ACCESS_KEY   = ""
    TWEETSTREAM_S3_SECRET_KEY   = ""
    TWEETSTREAM_ARCHIVE_BUCKET  = module.s3.bucket_names["archive"]
    TWEETSTREAM_MLFLOW_BUCKET   = module.s3.bucket_names["mlflow"]
    TWEETSTREAM_REPORTS_BUCKET  = module.s3.bucket_names["reports"]
    TWEETSTREAM_ARCHIVE_PREFIX  = local.archive_prefix
    TWEETSTREAM_STATE_DIR       = "/app/.tweetstream"
    # kafka-python's AWS_MSK_IAM mechanism reads the region from botocore's configuration.
    AWS_DEFAULT_REGION = var.region
  }
}

module "kms" {
  source = "./modules/kms"
  name   = local.name
}

module "network" {
  source                  = "./modules/network"
  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  kms_key_arn             = module.kms.key_arn
  flow_log_retention_days = var.log_retention_days
  api_client_cidrs        = var.api_client_cidrs
}

module "s3" {
  source                     = "./modules/s3"
  name_prefix                = "${local.name}-${data.aws_caller_identity.current.account_id}"
  kms_key_arn                = module.kms.key_arn
  archive_glacier_after_days = var.archive_glacier_after_days
  reports_expire_days        = var.reports_expire_days
  force_destroy              = !var.deletion_protection
}

module "ecr" {
  source       = "./modules/ecr"
  name         = local.name
  kms_key_arn  = module.kms.key_arn
  force_delete = !var.deletion_protection
}

module "msk" {
  source               = "./modules/msk"
  name                 = local.name
  mode                 = var.msk_mode
  kafka_version        = var.msk_kafka_version
  broker_instance_type = var.msk_broker_instance_type
  broker_count         = var.msk_broker_count
  broker_volume_gb     = var.msk_broker_volume_gb
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.network.security_group_ids["msk"]]
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
}

module "rds" {
  source                   = "./modules/rds"
  name                     = local.name
  instance_class           = var.rds_instance_class
  allocated_storage_gb     = var.rds_allocated_storage_gb
  max_allocated_storage_gb = var.rds_max_allocated_storage_gb
  multi_az                 = var.rds_multi_az
  backup_retention_days    = var.rds_backup_retention_days
  deletion_protection      = var.deletion_protection
  skip_final_snapshot      = !var.deletion_protection
  subnet_ids               = module.network.private_subnet_ids
  security_group_ids       = [module.network.security_group_ids["rds"]]
  kms_key_arn              = module.kms.key_arn
}

module "secrets" {
  source               = "./modules/secrets"
  name                 = local.name
  kms_key_arn          = module.kms.key_arn
  recovery_window_days = var.deletion_protection ? 30 : 0
}

module "iam" {
  source               = "./modules/iam"
  name                 = local.name
  msk_cluster_arn      = module.msk.cluster_arn
  msk_topic_arn_prefix = module.msk.topic_arn_prefix
  msk_group_arn_prefix = module.msk.group_arn_prefix
  topics               = local.topics
  consumer_groups = {
    worker  = local.worker_group
    trainer = var.trainer_consumer_group
  }
  bucket_arns           = module.s3.bucket_arns
  archive_prefix        = local.archive_prefix
  db_secret_arn         = module.rds.master_user_secret_arn
  api_tokens_secret_arn = module.secrets.api_tokens_secret_arn
  kms_key_arn           = module.kms.key_arn
  ecr_repository_arn    = module.ecr.repository_arn
  log_group_prefix      = local.log_group_prefix
}

module "ecs" {
  source                     = "./modules/ecs"
  name                       = local.name
  image                      = "${module.ecr.repository_url}:${var.image_tag}"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  security_group_ids         = module.network.security_group_ids
  execution_role_arn         = module.iam.execution_role_arn
  task_role_arns             = module.iam.task_role_arns
  environment                = local.app_environment
  db_secret_arn              = module.rds.master_user_secret_arn
  db_host                    = module.rds.address
  db_port                    = module.rds.port
  mlflow_database            = local.app_environment["TWEETSTREAM_MLFLOW_DATABASE"]
  mlflow_bucket              = module.s3.bucket_names["mlflow"]
  service_sizes              = var.service_sizes
  monitor_every              = var.monitor_every
  worker_min_count           = var.worker_min_count
  worker_max_count           = min(var.worker_max_count, var.topic_partitions)
  worker_cpu_target          = var.worker_cpu_target
  worker_lag_per_task_target = var.worker_lag_per_task_target
  msk_cluster_name           = module.msk.cluster_name
  worker_consumer_group      = local.worker_group
  raw_topic                  = local.topics.raw
  log_group_prefix           = local.log_group_prefix
  log_retention_days         = var.log_retention_days
  kms_key_arn                = module.kms.key_arn
  alb_deletion_protection    = var.deletion_protection
  alb_logs_bucket            = module.s3.bucket_names["logs"]
  alb_logs_prefix            = module.s3.alb_log_prefix
  serving_execution_role_arn = module.iam.serving_execution_role_arn
  api_tokens_secret_arn      = module.secrets.api_tokens_secret_arn
  api_reads_need_token       = var.api_reads_need_token
}
