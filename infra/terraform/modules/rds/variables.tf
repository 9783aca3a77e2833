variable "name" {
  description = "Identifier of the instance (e.g. tweetstream-prod)."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version (the local stack runs 15)."
  type        = string
  default     = "15"
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage_gb" {
  description = "Initial storage, GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling, GiB."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Synchronous standby in a second zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backup retention, days (1-35)."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (true in prod)."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (dev only)."
  type        = bool
  default     = false
}

variable "database_name" {
  description = "Database created with the instance (the application's; MLflow's is created by the MLflow task)."
  type        = string
  default     = "tweetstream"
}

variable "master_username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "tweetstream"
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instance (port 5432 from the services)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the master-password secret."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
