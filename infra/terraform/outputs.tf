output "ecr_repository_url" {
  description = "docker push target: <url>:<git sha>."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = module.ecs.cluster_name
}

output "ecs_services" {
  description = "ECS services."
  value       = module.ecs.service_names
}

output "ops_task_definition_arn" {
  description = "One-off task definition (tweetstream db upgrade) for aws ecs run-task."
  value       = module.ecs.task_definition_arns["ops"]
}

output "ops_network" {
  description = "Subnets and security group to pass to aws ecs run-task for the ops task."
  value = {
    subnets        = module.network.private_subnet_ids
    security_group = module.network.security_group_ids["ops"]
  }
}

output "msk_bootstrap_brokers" {
  description = "SASL/IAM over TLS bootstrap brokers (TWEETSTREAM_KAFKA_BOOTSTRAP)."
  value       = module.msk.bootstrap_brokers_iam
}

output "rds_address" {
  description = "PostgreSQL host (TWEETSTREAM_PG_HOST)."
  value       = module.rds.address
}

output "db_secret_arn" {
  description = "Secrets Manager secret holding the database user and password."
  value       = module.rds.master_user_secret_arn
}

output "buckets" {
  description = "Bucket names: archive, mlflow, reports, logs."
  value       = module.s3.bucket_names
}

output "mlflow_tracking_uri" {
  description = "MLflow inside the VPC (internal ALB)."
  value       = module.ecs.mlflow_tracking_uri
}

output "api_url" {
  description = "HTTP API inside the VPC (internal ALB): what clients in the VPC or var.api_client_cidrs call."
  value       = module.ecs.api_url
}

output "ui_url" {
  description = "Web UI inside the VPC (internal ALB)."
  value       = module.ecs.ui_url
}

output "api_tokens_secret_name" {
  description = "Secrets Manager secret to put the API tokens in (JSON object reviewer name -> token): aws secretsmanager put-secret-value --secret-id <name>."
  value       = module.secrets.api_tokens_secret_name
}

output "task_role_arns" {
  description = "Task role per service."
  value       = module.iam.task_role_arns
}
