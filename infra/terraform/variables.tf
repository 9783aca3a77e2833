# --- environment ---------------------------------------------------------------------------
variable "project" {
  description = "Project name: prefix of every resource name."
  type        = string
  default     = "tweetstream"
}

variable "environment" {
  description = "Environment: dev, stg or prod."
  type        = string

  validation {
    condition     = contains(["dev", "stg", "prod"], var.environment)
    error_message = "environment must be dev, stg or prod."
  }
}

variable "region" {
  description = "AWS region of the whole environment."
  type        = string
}

variable "image_tag" {
  description = "Tag of the tweetstream image in ECR (CI passes the git commit SHA: -var image_tag=...)."
  type        = string
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

# --- network ------------------------------------------------------------------------------
variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Two (or three) availability zones of var.region, by name."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone (cheaper; dev)."
  type        = bool
  default     = false
}

# --- MSK ----------------------------------------------------------------------------------
variable "msk_mode" {
  description = "serverless or provisioned."
  type        = string
  default     = "serverless"
}

variable "msk_kafka_version" {
  description = "Kafka version of a provisioned cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_broker_instance_type" {
  description = "Broker instance type of a provisioned cluster."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_count" {
  description = "Brokers of a provisioned cluster (a multiple of the 2 zones)."
  type        = number
  default     = 2
}

variable "msk_broker_volume_gb" {
  description = "EBS volume per broker of a provisioned cluster, GiB."
  type        = number
  default     = 100
}

variable "topic_partitions" {
  description = "Partitions of each project topic (TWEETSTREAM_TOPIC_PARTITIONS); also the useful maximum of worker tasks."
  type        = number
  default     = 4
}

variable "trainer_consumer_group" {
  description = "Consumer group of the trainer (its IAM policy may join only this group)."
  type        = string
  default     = "tweetstream-trainer"
}

# --- RDS ----------------------------------------------------------------------------------
variable "rds_instance_class" {
  description = "Instance class of the PostgreSQL instance."
  type        = string
  default     = "db.t4g.medium"
}

variable "rds_allocated_storage_gb" {
  description = "Initial storage, GiB."
  type        = number
  default     = 20
}

variable "rds_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling, GiB."
  type        = number
  default     = 100
}

variable "rds_multi_az" {
  description = "Multi-AZ standby."
  type        = bool
  default     = true
}

variable "rds_backup_retention_days" {
  description = "Automated backup retention, days."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Deletion protection of RDS and the ALB, no force-destroy of buckets and ECR (false only in dev)."
  type        = bool
  default     = true
}

# --- S3 -----------------------------------------------------------------------------------
variable "archive_glacier_after_days" {
  description = "Archive objects move to Glacier after this many days."
  type        = number
  default     = 30
}

variable "reports_expire_days" {
  description = "Monitoring reports are deleted after this many days."
  type        = number
  default     = 90
}

# --- ECS ----------------------------------------------------------------------------------
variable "service_sizes" {
  description = "Fargate CPU units, memory (MiB) and desired count per task: worker, monitor, trainer, mlflow, ops, api, ui."
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

  validation {
    condition     = length(setsubtract(["worker", "monitor", "trainer", "mlflow", "ops", "api", "ui"], keys(var.service_sizes))) == 0
    error_message = "service_sizes needs an entry for each of worker, monitor, trainer, mlflow, ops, api and ui."
  }
}

variable "monitor_every" {
  description = "Window of `tweetstream monitor --every`."
  type        = string
  default     = "60s"
}

variable "worker_min_count" {
  description = "Fewest worker tasks."
  type        = number
  default     = 1
}

variable "worker_max_count" {
  description = "Most worker tasks (no more than topic_partitions)."
  type        = number
  default     = 4
}

variable "worker_cpu_target" {
  description = "Target average CPU (%) of the workers."
  type        = number
  default     = 60
}

variable "worker_lag_per_task_target" {
  description = "Target consumer lag of the raw topic per running worker task, messages."
  type        = number
  default     = 5000
}

# --- API and UI ---------------------------------------------------------------------------
variable "api_reads_need_token" {
  description = "TWEETSTREAM_API_READS_NEED_TOKEN of the api and ui tasks: reads need a bearer token too, not only writes."
  type        = bool
  default     = false
}

variable "api_client_cidrs" {
  description = "Private networks besides the VPC (VPN, peered VPCs) allowed to reach the API and UI on the internal ALB; never /0."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (containers, MSK brokers, VPC flow logs), days."
  type        = number
  default     = 365
}
