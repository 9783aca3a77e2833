output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways only)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets: ECS tasks, MSK, RDS, the internal ALB."
  value       = aws_subnet.private[*].id
}

output "security_group_ids" {
  description = "Security group ID per service: worker, monitor, trainer, ops, api, ui, mlflow, alb, msk, rds."
  value       = { for name, sg in aws_security_group.service : name => sg.id }
}
