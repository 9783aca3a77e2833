variable "name" {
  description = "Name prefix of every resource (e.g. tweetstream-prod)."
  type        = string
}

variable "cidr_block" {
  description = "CIDR block of the VPC; split into 2 public and 2 private subnets."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones used, by name (a public and a private subnet in each)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "Give 2 or 3 availability zones (MSK and RDS Multi-AZ need two)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, dev) instead of one per zone."
  type        = bool
  default     = false
}

variable "kafka_port" {
  description = "Broker port for SASL/IAM over TLS (9098 on MSK provisioned and serverless)."
  type        = number
  default     = 9098
}

variable "mlflow_port" {
  description = "Container port of the MLflow tracking server."
  type        = number
  default     = 5000
}

variable "api_port" {
  description = "Container port of the HTTP API (TWEETSTREAM_API_PORT); also its listener port on the internal ALB."
  type        = number
  default     = 8080
}

variable "ui_port" {
  description = "Container port of the web UI (TWEETSTREAM_UI_PORT); also its listener port on the internal ALB."
  type        = number
  default     = 7860
}

variable "api_client_cidrs" {
  description = "Private networks besides the VPC (VPN, peered VPCs) allowed to reach the API and UI listeners of the internal ALB."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.api_client_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "api_client_cidrs must be CIDR blocks, and none may be /0 (the ALB is internal)."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the VPC flow-log group."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs, days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
