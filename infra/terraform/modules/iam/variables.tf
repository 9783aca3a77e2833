variable "name" {
  description = "Name prefix of the roles (e.g. tweetstream-prod)."
  type        = string
}

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  type        = string
}

variable "msk_topic_arn_prefix" {
  description = "Topic ARN prefix of the cluster (module msk)."
  type        = string
}

variable "msk_group_arn_prefix" {
  description = "Consumer-group ARN prefix of the cluster (module msk)."
  type        = string
}

variable "topics" {
  description = "Topic names: raw, classified, dlq, retrain, labels, alerts (TWEETSTREAM_*_TOPIC)."
  type = object({
    raw        = string
    classified = string
    dlq        = string
    retrain    = string
    labels     = string
    alerts     = string
  })
}

variable "consumer_groups" {
  description = "Consumer-group id per consuming service: worker (TWEETSTREAM_WORKER_GROUP), trainer."
  type = object({
    worker  = string
    trainer = string
  })
}

variable "bucket_arns" {
  description = "Bucket ARNs by purpose: archive, mlflow, reports (module s3)."
  type        = map(string)
}

variable "archive_prefix" {
  description = "Key prefix of the archive (TWEETSTREAM_ARCHIVE_PREFIX): the worker writes only there."
  type        = string
}

variable "db_secret_arn" {
  description = "Secrets Manager secret of the database credentials (RDS-managed)."
  type        = string
}

variable "api_tokens_secret_arn" {
  description = "Secrets Manager secret of the API tokens (module secrets): only the serving execution role may read it."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the buckets and the secret."
  type        = string
}

variable "ecr_repository_arn" {
  description = "Repository the execution role pulls the image from."
  type        = string
}

variable "log_group_prefix" {
  description = "Name prefix of the container log groups (/ecs/<name>): the execution role writes to log groups under it."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
