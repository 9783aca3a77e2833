# VPC over 2 (or 3) named zones: public subnets hold only the NAT gateways; everything else
# (ECS tasks, MSK brokers, RDS, the internal ALB) lives in the private subnets.
data "aws_region" "current" {}

locals {
  # Zones are named explicitly (not discovered), so the layout never changes on its own.
  azs       = var.availability_zones
  az_count  = length(var.availability_zones)
  nat_count = var.single_nat_gateway ? 1 : local.az_count
  # One security group per ECS service, plus the ALB, MSK and RDS.
  app_services = ["worker", "monitor", "trainer", "ops", "api", "ui"]
  # Which services reach which backend (least privilege at the network layer too). The API
  # and the UI publish to the raw topic and check it (/readyz), read PostgreSQL and load the
  # model through MLflow; they need no bucket (artifacts come through the MLflow server).
  kafka_clients  = ["worker", "monitor", "trainer", "ops", "api", "ui"]
  db_clients     = ["worker", "monitor", "trainer", "mlflow", "ops", "api", "ui"]
  mlflow_clients = ["worker", "monitor", "trainer", "ops", "api", "ui"]
  # The HTTP services behind the internal ALB (listener port = container port) and the
  # networks their clients come from: the VPC itself plus var.api_client_cidrs (VPN, peering).
  serving_ports        = { api = var.api_port, ui = var.ui_port }
  serving_client_cidrs = distinct(concat([var.cidr_block], var.api_client_cidrs))
  serving_ingress = {
    for pair in setproduct(keys(local.serving_ports), local.serving_client_cidrs) :
    "${pair[0]} ${pair[1]}" => { service = pair[0], cidr = pair[1] }
  }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

# The default security group allows nothing: every resource gets its own group below.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "public" {
  count             = local.az_count
  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, count.index)
  tags              = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_subnet" "private" {
  count             = local.az_count
  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, count.index + 8)
  tags              = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_eip" "nat" {
  #checkov:skip=CKV2_AWS_19:These Elastic IPs belong to NAT gateways (aws_nat_gateway.this), not to EC2 instances.
  count  = local.nat_count
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat-${count.index}" })
}

resource "aws_nat_gateway" "this" {
  count         = local.nat_count
  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = merge(var.tags, { Name = "${var.name}-nat-${count.index}" })
  depends_on    = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count          = local.az_count
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count  = local.az_count
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route" "private_nat" {
  count                  = local.az_count
  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

resource "aws_route_table_association" "private" {
  count          = local.az_count
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# S3 traffic (archive, artifacts, reports, image layers) bypasses the NAT gateways.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  tags              = merge(var.tags, { Name = "${var.name}-s3" })
}

# --- VPC flow logs ------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/aws/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id          = aws_vpc.this.id
  traffic_type    = "ALL"
  log_destination = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn    = aws_iam_role.flow_logs.arn
  tags            = var.tags
}

# --- security groups: one per service ------------------------------------------------
resource "aws_security_group" "service" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: module.ecs (services, ALB), module.msk and module.rds receive them through output security_group_ids; checkov's graph does not follow that map across modules.
  for_each    = toset(concat(local.app_services, ["mlflow", "alb", "msk", "rds"]))
  name        = "${var.name}-${each.key}"
  description = "tweetstream ${each.key} (${var.name})"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-${each.key}", Service = each.key })

  lifecycle {
    create_before_destroy = true
  }
}

# Outbound HTTPS (AWS APIs via NAT or the S3 endpoint: ECR, Secrets Manager, STS, logs).
resource "aws_vpc_security_group_egress_rule" "https" {
  for_each          = toset(concat(local.app_services, ["mlflow"]))
  security_group_id = aws_security_group.service[each.key].id
  description       = "HTTPS to AWS APIs (ECR, S3, STS, Secrets Manager, CloudWatch)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "to_kafka" {
  for_each                     = toset(local.kafka_clients)
  security_group_id            = aws_security_group.service[each.key].id
  description                  = "Kafka SASL/IAM over TLS to MSK"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = aws_security_group.service["msk"].id
}

resource "aws_vpc_security_group_ingress_rule" "kafka" {
  for_each                     = toset(local.kafka_clients)
  security_group_id            = aws_security_group.service["msk"].id
  description                  = "Kafka SASL/IAM over TLS from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = aws_security_group.service[each.key].id
}

resource "aws_vpc_security_group_egress_rule" "to_db" {
  for_each                     = toset(local.db_clients)
  security_group_id            = aws_security_group.service[each.key].id
  description                  = "PostgreSQL to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.service["rds"].id
}

resource "aws_vpc_security_group_ingress_rule" "db" {
  for_each                     = toset(local.db_clients)
  security_group_id            = aws_security_group.service["rds"].id
  description                  = "PostgreSQL from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.service[each.key].id
}

resource "aws_vpc_security_group_egress_rule" "to_alb" {
  for_each                     = toset(local.mlflow_clients)
  security_group_id            = aws_security_group.service[each.key].id
  description                  = "HTTP to the internal MLflow ALB"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = aws_security_group.service["alb"].id
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260:False positive: the source is referenced_security_group_id (one service's group), there is no CIDR, let alone 0.0.0.0/0.
  for_each                     = toset(local.mlflow_clients)
  security_group_id            = aws_security_group.service["alb"].id
  description                  = "HTTP to MLflow from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = aws_security_group.service[each.key].id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_mlflow" {
  security_group_id            = aws_security_group.service["alb"].id
  description                  = "ALB to the MLflow tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.mlflow_port
  to_port                      = var.mlflow_port
  referenced_security_group_id = aws_security_group.service["mlflow"].id
}

resource "aws_vpc_security_group_ingress_rule" "mlflow" {
  security_group_id            = aws_security_group.service["mlflow"].id
  description                  = "MLflow from the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.mlflow_port
  to_port                      = var.mlflow_port
  referenced_security_group_id = aws_security_group.service["alb"].id
}

# --- the API and the UI behind the internal ALB ----------------------------------------
# Clients (the VPC, var.api_client_cidrs) reach only the ALB's API and UI listeners; only the
# ALB reaches the api and ui tasks, each on its own container port.
resource "aws_vpc_security_group_ingress_rule" "alb_serving" {
  for_each          = local.serving_ingress
  security_group_id = aws_security_group.service["alb"].id
  description       = "tweetstream ${each.value.service} from ${each.value.cidr}"
  ip_protocol       = "tcp"
  from_port         = local.serving_ports[each.value.service]
  to_port           = local.serving_ports[each.value.service]
  cidr_ipv4         = each.value.cidr
}

resource "aws_vpc_security_group_egress_rule" "alb_to_serving" {
  for_each                     = local.serving_ports
  security_group_id            = aws_security_group.service["alb"].id
  description                  = "ALB to the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.service[each.key].id
}

resource "aws_vpc_security_group_ingress_rule" "serving" {
  for_each                     = local.serving_ports
  security_group_id            = aws_security_group.service[each.key].id
  description                  = "tweetstream ${each.key} from the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.service["alb"].id
}
