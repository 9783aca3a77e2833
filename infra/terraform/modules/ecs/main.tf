# Fargate cluster running one image: worker, monitor and trainer are `tweetstream <command>`,
# mlflow is the tracking server behind an internal ALB, api and ui (`tweetstream api|ui`) are
# behind the same ALB on their own listeners, ops is a one-off task definition (database
# migrations: `aws ecs run-task`, see docs/deploy.md).
data "aws_region" "current" {}

locals {
  # ECS service -> the tweetstream subcommand it runs (the image's ENTRYPOINT is tweetstream).
  app_services = {
    worker  = ["worker"]
    monitor = ["monitor", "--every", var.monitor_every]
    trainer = ["trainer"]
  }
  # One-off task definitions (no service): `aws ecs run-task` with the ops task definition.
  one_off_tasks = {
    ops = ["db", "upgrade"]
  }
  # HTTP services behind the internal ALB: the subcommand, and the container port (= the
  # listener port on the ALB). The UI is the API app plus its page, so both get the tokens.
  serving_services = {
    api = ["api"]
    ui  = ["ui"]
  }
  serving_ports = { api = var.api_port, ui = var.ui_port }
  # A literal per service (not built inside jsonencode): checkov then still reads the
  # container definitions.
  serving_health_code = {
    for k, port in local.serving_ports :
    k => "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}/healthz', timeout=5)"
  }
  all_tasks = toset(concat(
    keys(local.app_services), keys(local.one_off_tasks), keys(local.serving_services), ["mlflow"],
  ))

  mlflow_url   = "http://${aws_lb.mlflow.dns_name}:80"
  serving_urls = { for k, port in local.serving_ports : k => "http://${aws_lb.mlflow.dns_name}:${port}" }

  app_environment = merge(var.environment, {
    TWEETSTREAM_MLFLOW_TRACKING_URI = local.mlflow_url
    # libpq (psycopg2) reads it: the RDS parameter group refuses clear-text connections.
    PGSSLMODE = "require"
  })
  db_secrets = [
    { name = "TWEETSTREAM_PG_USER", valueFrom = "${var.db_secret_arn}:username::" },
    { name = "TWEETSTREAM_PG_PASSWORD", valueFrom = "${var.db_secret_arn}:password::" },
  ]

  # The API's settings on top of the shared ones: bind every interface of the task (the
  # default 127.0.0.1 is unreachable from the ALB), and whether reads need a token too.
  serving_environment = merge(local.app_environment, {
    TWEETSTREAM_API_HOST             = "0.0.0.0"
    TWEETSTREAM_API_PORT             = tostring(var.api_port)
    TWEETSTREAM_UI_PORT              = tostring(var.ui_port)
    TWEETSTREAM_API_READS_NEED_TOKEN = tostring(var.api_reads_need_token)
  })
  # The whole secret (a JSON object reviewer name -> token) becomes TWEETSTREAM_API_TOKENS.
  serving_secrets = concat(local.db_secrets, [
    { name = "TWEETSTREAM_API_TOKENS", valueFrom = var.api_tokens_secret_arn },
  ])

  # MLflow's backend database lives on the same instance; create it on first start, then
  # exec the server. libpq takes host, user, password and sslmode from PG* variables.
  mlflow_bootstrap = <<-PY
    import os, sys
    import psycopg2
    db = os.environ["MLFLOW_DATABASE"]
    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        if cur.fetchone() is None:
            cur.execute('CREATE DATABASE "{}"'.format(db.replace('"', '""')))
    conn.close()
    os.execvp("mlflow", ["mlflow", *sys.argv[1:]])
  PY
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "task" {
  for_each          = local.all_tasks
  name              = "${var.log_group_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = merge(var.tags, { Service = each.key })
}

# --- task definitions -----------------------------------------------------------------
resource "aws_ecs_task_definition" "app" {
  #checkov:skip=CKV_AWS_336:The image writes its state (Faust data dir, temporary files) under /app as the non-root user 10001; a read-only root filesystem needs writable mounts declared in the Dockerfile first (follow-up).
  for_each                 = merge(local.app_services, local.one_off_tasks)
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.service_sizes[each.key].cpu
  memory                   = var.service_sizes[each.key].memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name        = each.key
      image       = var.image
      essential   = true
      command     = each.value
      user        = "10001:10001"
      environment = [for k, v in local.app_environment : { name = k, value = v }]
      secrets     = local.db_secrets
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    }
  ])

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_ecs_task_definition" "mlflow" {
  #checkov:skip=CKV_AWS_336:mlflow server writes temporary files (artifact uploads, gunicorn/uvicorn workers) under /tmp and /app; read-only root needs writable mounts declared in the Dockerfile first (follow-up).
  family                   = "${var.name}-mlflow"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.service_sizes["mlflow"].cpu
  memory                   = var.service_sizes["mlflow"].memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arns["mlflow"]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name       = "mlflow"
      image      = var.image
      essential  = true
      user       = "10001:10001"
      entryPoint = ["python", "-c", local.mlflow_bootstrap]
      command = [
        "server",
        "--backend-store-uri", "postgresql://${var.db_host}:${var.db_port}/${var.mlflow_database}",
        "--artifacts-destination", "s3://${var.mlflow_bucket}/artifacts",
        "--host", "0.0.0.0",
        "--port", tostring(var.mlflow_port),
        "--allowed-hosts", join(",", [
          aws_lb.mlflow.dns_name,
          "${aws_lb.mlflow.dns_name}:80",
          "localhost:${var.mlflow_port}",
          "127.0.0.1:${var.mlflow_port}",
        ]),
      ]
      portMappings = [{ containerPort = var.mlflow_port, protocol = "tcp" }]
      environment = [
        { name = "PGHOST", value = var.db_host },
        { name = "PGPORT", value = tostring(var.db_port) },
        { name = "PGSSLMODE", value = "require" },
        { name = "MLFLOW_DATABASE", value = var.mlflow_database },
        { name = "AWS_DEFAULT_REGION", value = data.aws_region.current.name },
        { name = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", value = "false" },
        { name = "MLFLOW_DISABLE_TELEMETRY", value = "true" },
      ]
      secrets = [
        { name = "PGUSER", valueFrom = "${var.db_secret_arn}:username::" },
        { name = "PGPASSWORD", valueFrom = "${var.db_secret_arn}:password::" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task["mlflow"].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "mlflow"
        }
      }
    }
  ])

  tags = merge(var.tags, { Service = "mlflow" })
}

resource "aws_ecs_task_definition" "serving" {
  #checkov:skip=CKV_AWS_336:uvicorn and the model loader (MLflow downloads the model to a temporary directory) write under /tmp and /app as user 10001; a read-only root needs writable mounts declared in the Dockerfile first (follow-up, as for the other tasks).
  for_each                 = local.serving_services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.service_sizes[each.key].cpu
  memory                   = var.service_sizes[each.key].memory
  execution_role_arn       = var.serving_execution_role_arn
  task_role_arn            = var.task_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name         = each.key
      image        = var.image
      essential    = true
      command      = each.value
      user         = "10001:10001"
      portMappings = [{ containerPort = local.serving_ports[each.key], protocol = "tcp" }]
      environment  = [for k, v in local.serving_environment : { name = k, value = v }]
      secrets      = local.serving_secrets
      # Liveness only (/healthz): /readyz also asks Kafka and PostgreSQL, and an outage of
      # either must not make ECS replace every API task.
      healthCheck = {
        command = [
          "CMD", "python", "-c",
          local.serving_health_code[each.key],
        ]
        interval    = 30
        timeout     = 10
        retries     = 3
        startPeriod = 60
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    }
  ])

  tags = merge(var.tags, { Service = each.key })
}

# --- services -------------------------------------------------------------------------
resource "aws_ecs_service" "app" {
  for_each               = { for k, v in local.app_services : k => v if k != "worker" }
  name                   = each.key
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.app[each.key].arn
  desired_count          = var.service_sizes[each.key].desired_count
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_ids[each.key]]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_ecs_service" "worker" {
  name                   = "worker"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.app["worker"].arn
  desired_count          = max(var.service_sizes["worker"].desired_count, var.worker_min_count)
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_ids["worker"]]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The task count belongs to the autoscaler once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = merge(var.tags, { Service = "worker" })
}

resource "aws_ecs_service" "mlflow" {
  name                   = "mlflow"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.mlflow.arn
  desired_count          = var.service_sizes["mlflow"].desired_count
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_ids["mlflow"]]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.mlflow.arn
    container_name   = "mlflow"
    container_port   = var.mlflow_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.mlflow]
  tags       = merge(var.tags, { Service = "mlflow" })
}

resource "aws_ecs_service" "serving" {
  for_each                          = local.serving_services
  name                              = each.key
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.serving[each.key].arn
  desired_count                     = var.service_sizes[each.key].desired_count
  launch_type                       = "FARGATE"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = 120

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_ids[each.key]]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.serving[each.key].arn
    container_name   = each.key
    container_port   = local.serving_ports[each.key]
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.serving]
  tags       = merge(var.tags, { Service = each.key })
}

# --- internal ALB in front of MLflow (:80), the API and the UI ---------------------------
# One ALB (its name still says mlflow: renaming it would replace it and change every URL).
resource "aws_lb" "mlflow" {
  #checkov:skip=CKV2_AWS_20:No HTTPS listener to redirect to: the internal listeners (MLflow, API, UI) serve HTTP until a private certificate exists (see the listeners' CKV_AWS_2 notes).
  #checkov:skip=CKV2_AWS_28:Internal ALB in private subnets, reachable only from the services' security groups and, on the API and UI listeners, from the VPC and the private ranges of var.api_client_cidrs; WAF protects internet-facing endpoints.
  name                       = substr("${var.name}-mlflow", 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.subnet_ids
  security_groups            = [var.security_group_ids["alb"]]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  access_logs {
    bucket  = var.alb_logs_bucket
    prefix  = var.alb_logs_prefix
    enabled = true
  }

  tags = var.tags
}

resource "aws_lb_target_group" "mlflow" {
  #checkov:skip=CKV_AWS_378:ALB to task traffic stays inside the VPC between two security groups; MLflow serves plain HTTP (no certificate in the container).
  name        = substr("${var.name}-mlflow", 0, 32)
  port        = var.mlflow_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "mlflow" {
  #checkov:skip=CKV_AWS_2:Internal listener in private subnets, reachable only from the tweetstream services' security groups; HTTPS needs a certificate for a private DNS name (follow-up: ACM Private CA + Route 53 private zone).
  #checkov:skip=CKV_AWS_103:Same listener: no TLS until a private certificate exists (see CKV_AWS_2).
  load_balancer_arn = aws_lb.mlflow.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.mlflow.arn
  }
}

resource "aws_lb_target_group" "serving" {
  #checkov:skip=CKV_AWS_378:ALB to task traffic stays inside the VPC between two security groups; uvicorn serves plain HTTP (no certificate in the container).
  for_each             = local.serving_ports
  name                 = substr("${var.name}-${each.key}", 0, 32)
  port                 = each.value
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  # /healthz (process alive), not /readyz: a Kafka or PostgreSQL outage must not take every
  # API task out of the ALB; the endpoints that need them answer 503 on their own.
  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_lb_listener" "serving" {
  #checkov:skip=CKV_AWS_2:Internal listener in private subnets, reachable only from the VPC and var.api_client_cidrs; HTTPS needs a certificate for a private DNS name (follow-up: ACM Private CA + Route 53 private zone, as for MLflow).
  #checkov:skip=CKV_AWS_103:Same listener: no TLS until a private certificate exists (see CKV_AWS_2).
  for_each          = local.serving_ports
  load_balancer_arn = aws_lb.mlflow.arn
  port              = each.value
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.serving[each.key].arn
  }
}

# --- worker autoscaling ---------------------------------------------------------------
# Two target-tracking policies; Application Auto Scaling scales out when either asks and in
# only when both allow it:
#   1. average CPU of the worker service (ECSServiceAverageCPUUtilization);
#   2. consumer lag per task: SumOffsetLag of the worker group on the raw topic (AWS/Kafka,
#      emitted by MSK serverless and provisioned) divided by the running worker tasks
#      (ECS/ContainerInsights RunningTaskCount) with metric math.
resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  min_capacity       = var.worker_min_count
  max_capacity       = var.worker_max_count
}

resource "aws_appautoscaling_policy" "worker_cpu" {
  name               = "${var.name}-worker-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  resource_id        = aws_appautoscaling_target.worker.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "worker_lag" {
  name               = "${var.name}-worker-lag"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  resource_id        = aws_appautoscaling_target.worker.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_lag_per_task_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "lag"
        label       = "SumOffsetLag of ${var.worker_consumer_group} on ${var.raw_topic}"
        return_data = false
        metric_stat {
          stat = "Maximum"
          metric {
            namespace   = "AWS/Kafka"
            metric_name = "SumOffsetLag"
            dimensions {
              name  = "Cluster Name"
              value = var.msk_cluster_name
            }
            dimensions {
              name  = "Consumer Group"
              value = var.worker_consumer_group
            }
            dimensions {
              name  = "Topic"
              value = var.raw_topic
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running worker tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker.name
            }
          }
        }
      }

      metrics {
        id          = "lag_per_task"
        label       = "Consumer lag per running worker task"
        expression  = "IF(tasks > 0, lag / tasks, lag)"
        return_data = true
      }
    }
  }
}
