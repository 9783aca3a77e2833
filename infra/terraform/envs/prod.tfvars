# terraform plan -var-file=envs/prod.tfvars -var image_tag=<git sha>
environment = "prod"
region      = "us-east-1"
vpc_cidr    = "10.42.0.0/16"

availability_zones = ["us-east-1a", "us-east-1b"]

single_nat_gateway  = false
deletion_protection = true
log_retention_days  = 365

msk_mode                 = "provisioned"
msk_kafka_version        = "3.6.0"
msk_broker_instance_type = "kafka.m7g.large"
msk_broker_count         = 2
msk_broker_volume_gb     = 200

rds_instance_class        = "db.m7g.large"
rds_multi_az              = true
rds_backup_retention_days = 30

archive_glacier_after_days = 90
reports_expire_days        = 180

worker_min_count           = 2
worker_max_count           = 4
worker_cpu_target          = 60
worker_lag_per_task_target = 5000
