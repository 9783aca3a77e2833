output "cluster_arn" {
  description = "ARN of the cluster (kafka-cluster:Connect resource)."
  value       = local.cluster_arn
}

output "cluster_name" {
  description = "Name of the cluster (the 'Cluster Name' dimension of AWS/Kafka metrics)."
  value       = var.name
}

output "bootstrap_brokers_iam" {
  description = "Comma-separated SASL/IAM over TLS bootstrap brokers (port 9098)."
  value       = local.bootstrap
}

output "topic_arn_prefix" {
  description = "Topic ARNs are this prefix + '/' + topic name."
  value       = local.topic_arn_prefix
}

output "group_arn_prefix" {
  description = "Consumer-group ARNs are this prefix + '/' + group id."
  value       = local.group_arn_prefix
}
