output "bucket_names" {
  description = "Bucket names by purpose: archive, mlflow, reports, logs."
  value = merge(
    { for k, b in aws_s3_bucket.data : k => b.bucket },
    { logs = aws_s3_bucket.logs.bucket },
  )
}

output "bucket_arns" {
  description = "Bucket ARNs by purpose: archive, mlflow, reports, logs."
  value = merge(
    { for k, b in aws_s3_bucket.data : k => b.arn },
    { logs = aws_s3_bucket.logs.arn },
  )
}

output "alb_log_prefix" {
  description = "Prefix of the ALB access logs in the logs bucket."
  value       = "alb"
}
