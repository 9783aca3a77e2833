variable "name_prefix" {
  description = "Bucket name prefix; buckets are <prefix>-archive|mlflow|reports|logs (globally unique: include the account ID)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the default SSE-KMS encryption (archive, mlflow, reports)."
  type        = string
}

variable "archive_glacier_after_days" {
  description = "Archived tweets move to S3 Glacier Flexible Retrieval after this many days."
  type        = number
  default     = 30
}

variable "reports_expire_days" {
  description = "Evidently HTML reports are deleted after this many days."
  type        = number
  default     = 90
}

variable "noncurrent_version_expire_days" {
  description = "Overwritten or deleted object versions are kept this many days."
  type        = number
  default     = 30
}

variable "access_log_expire_days" {
  description = "S3 server access logs and ALB access logs are kept this many days."
  type        = number
  default     = 365
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
