variable "name" {
  description = "Name prefix of the secrets (e.g. tweetstream-prod): the API tokens secret is <name>/api-tokens."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the secrets (module kms)."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; 7 to 30 otherwise)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_days == 0 || (var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
