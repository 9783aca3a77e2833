output "api_tokens_secret_arn" {
  description = "ARN of the API tokens secret (valueFrom of TWEETSTREAM_API_TOKENS in the api and ui tasks)."
  value       = aws_secretsmanager_secret.api_tokens.arn
}

output "api_tokens_secret_name" {
  description = "Name of the API tokens secret (aws secretsmanager put-secret-value --secret-id <name>)."
  value       = aws_secretsmanager_secret.api_tokens.name
}
