output "execution_role_arn" {
  description = "ECS execution role (image pull, logs, database secret)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arns" {
  description = "Task role ARN per service: worker, monitor, trainer, mlflow, ops."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}
