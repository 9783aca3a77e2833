variable "name" {
  description = "Repository name (e.g. tweetstream)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images."
  type        = string
}

variable "keep_tagged_images" {
  description = "Most recent tagged images kept (older ones expire)."
  type        = number
  default     = 50
}

variable "untagged_expire_days" {
  description = "Untagged images expire after this many days."
  type        = number
  default     = 7
}

variable "force_delete" {
  description = "Allow terraform destroy to delete a repository that still holds images (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
