variable "name" {
  description = "Name prefix (e.g. tweetstream-prod): cluster, services, log groups, ALB."
  type        = string
}

variable "image" {
  description = "Image URI with tag (<ecr repository url>:<git sha>) run by every task."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the ALB target group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks and of the internal ALB."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security group ID per service: worker, monitor, trainer, ops, api, ui, mlflow, alb (module network)."
  type        = map(string)
}

variable "execution_role_arn" {
  description = "ECS execution role (module iam)."
  type        = string
}

variable "task_role_arns" {
  description = "Task role ARN per service: worker, monitor, trainer, mlflow, ops, api, ui (module iam)."
  type        = map(string)
}

variable "environment" {
  description = "TWEETSTREAM_* variables shared by the project's tasks (Kafka, PostgreSQL, S3 endpoints)."
  type        = map(string)
}

variable "db_secret_arn" {
  description = "RDS-managed secret (JSON keys username, password) injected into the tasks."
  type        = string
}

variable "db_host" {
  description = "Host name of the PostgreSQL instance."
  type        = string
}

variable "db_port" {
  description = "Port of the PostgreSQL instance."
  type        = number
}

variable "mlflow_database" {
  description = "Database of MLflow's backend store (created by the MLflow task when missing)."
  type        = string
}

variable "mlflow_bucket" {
  description = "Bucket of the MLflow artifacts (served through the tracking server)."
  type        = string
}

variable "serving_execution_role_arn" {
  description = "ECS execution role of the api and ui tasks (module iam): the only one that may read the API tokens secret."
  type        = string
}

variable "api_tokens_secret_arn" {
  description = "Secrets Manager secret (module secrets) whose JSON value, reviewer name -> token, becomes TWEETSTREAM_API_TOKENS of the api and ui tasks."
  type        = string
}

variable "api_reads_need_token" {
  description = "TWEETSTREAM_API_READS_NEED_TOKEN of the api and ui tasks: reads (the GET endpoints) need a token too, not only writes."
  type        = bool
  default     = false
}

variable "api_port" {
  description = "Container port of `tweetstream api` (TWEETSTREAM_API_PORT) and its listener port on the internal ALB."
  type        = number
  default     = 8080
}

variable "ui_port" {
  description = "Container port of `tweetstream ui` (TWEETSTREAM_UI_PORT) and its listener port on the internal ALB."
  type        = number
  default     = 7860
}

variable "mlflow_port" {
  description = "Container port of the MLflow tracking server."
  type        = number
  default     = 5000
}

variable "service_sizes" {
  description = "Fargate CPU units, memory (MiB) and desired task count per service."
  type = map(object({
    cpu           = number
    memory        = number
    desired_count = number
  }))
  default = {
    worker  = { cpu = 1024, memory = 2048, desired_count = 1 }
    monitor = { cpu = 512, memory = 1024, desired_count = 1 }
    trainer = { cpu = 1024, memory = 4096, desired_count = 1 }
    mlflow  = { cpu = 512, memory = 1024, desired_count = 1 }
    ops     = { cpu = 256, memory = 512, desired_count = 0 }
    api     = { cpu = 512, memory = 1024, desired_count = 1 }
    ui      = { cpu = 256, memory = 1024, desired_count = 1 }
  }
}

variable "monitor_every" {
  description = "Window of the monitor (its --every option)."
  type        = string
  default     = "60s"
}

variable "worker_min_count" {
  description = "Fewest worker tasks."
  type        = number
  default     = 1
}

variable "worker_max_count" {
  description = "Most worker tasks: no more than the partitions of the raw topic (extra consumers idle)."
  type        = number
  default     = 4
}

variable "worker_cpu_target" {
  description = "Target average CPU utilisation (%) of the worker service."
  type        = number
  default     = 60
}

variable "worker_lag_per_task_target" {
  description = "Target consumer lag (messages) of the worker group on the raw topic, per running worker task."
  type        = number
  default     = 5000
}

variable "msk_cluster_name" {
  description = "MSK cluster name (dimension of the consumer-lag metric)."
  type        = string
}

variable "worker_consumer_group" {
  description = "Consumer group of the workers (TWEETSTREAM_WORKER_GROUP)."
  type        = string
}

variable "raw_topic" {
  description = "Topic the workers consume (TWEETSTREAM_RAW_TOPIC)."
  type        = string
}

variable "container_insights" {
  description = "Container Insights level of the cluster: enabled or enhanced (the lag policy needs its RunningTaskCount)."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced"], var.container_insights)
    error_message = "container_insights must be enabled or enhanced: the worker's lag policy reads RunningTaskCount."
  }
}

variable "log_group_prefix" {
  description = "Name prefix of the container log groups: <prefix>/<task>."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the container log groups, days."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key of the log groups."
  type        = string
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the internal ALB (true in prod)."
  type        = bool
  default     = true
}

variable "alb_logs_bucket" {
  description = "Bucket receiving the ALB access logs (module s3, logs)."
  type        = string
}

variable "alb_logs_prefix" {
  description = "Prefix of the ALB access logs in that bucket."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
