variable "name" {
  description = "Cluster name (e.g. tweetstream-prod)."
  type        = string
}

variable "mode" {
  description = "serverless (pay per use, no broker sizing) or provisioned (dedicated brokers)."
  type        = string
  default     = "serverless"

  validation {
    condition     = contains(["serverless", "provisioned"], var.mode)
    error_message = "mode must be serverless or provisioned."
  }
}

variable "kafka_version" {
  description = "Apache Kafka version of a provisioned cluster."
  type        = string
  default     = "3.6.0"
}

variable "broker_instance_type" {
  description = "Broker instance type of a provisioned cluster."
  type        = string
  default     = "kafka.t3.small"
}

variable "broker_count" {
  description = "Brokers of a provisioned cluster: a multiple of the number of subnets."
  type        = number
  default     = 2
}

variable "broker_volume_gb" {
  description = "EBS volume per broker of a provisioned cluster, GiB."
  type        = number
  default     = 100
}

variable "subnet_ids" {
  description = "Private subnets, one per availability zone."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the cluster (clients reach port 9098)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for data at rest (provisioned) and the broker log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the broker logs (provisioned), days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
