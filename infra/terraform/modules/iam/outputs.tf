output "execution_role_arn" {
  description = "ECS execution role (image pull, logs, database secret)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arns" {
  description = "Task role ARN per service: worker, monitor, trainer, mlflow, ops, api, ui."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "serving_execution_role_arn" {
  description = "ECS execution role of the api and ui tasks (the shared one's permissions plus the API tokens secret)."
  value       = aws_iam_role.serving_execution.arn
}
