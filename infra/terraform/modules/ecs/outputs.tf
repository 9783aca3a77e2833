output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS services: worker, monitor, trainer, mlflow, api, ui."
  value = concat(
    [aws_ecs_service.worker.name],
    [for s in aws_ecs_service.app : s.name],
    [aws_ecs_service.mlflow.name],
    [for s in aws_ecs_service.serving : s.name],
  )
}

output "task_definition_arns" {
  description = "Task definition ARN per task: worker, monitor, trainer, ops, mlflow, api, ui."
  value = merge(
    { for k, t in aws_ecs_task_definition.app : k => t.arn },
    { mlflow = aws_ecs_task_definition.mlflow.arn },
    { for k, t in aws_ecs_task_definition.serving : k => t.arn },
  )
}

output "log_group_arns" {
  description = "Container log groups (the execution role writes to them)."
  value       = [for g in aws_cloudwatch_log_group.task : g.arn]
}

output "mlflow_tracking_uri" {
  description = "MLflow tracking URI inside the VPC (TWEETSTREAM_MLFLOW_TRACKING_URI of the tasks)."
  value       = local.mlflow_url
}

output "api_url" {
  description = "URL of the HTTP API inside the VPC (internal ALB, listener var.api_port)."
  value       = local.serving_urls["api"]
}

output "ui_url" {
  description = "URL of the web UI inside the VPC (internal ALB, listener var.ui_port)."
  value       = local.serving_urls["ui"]
}
