# terraform plan -var-file=envs/stg.tfvars -var image_tag=<git sha>
environment = "stg"
region      = "us-east-1"
vpc_cidr    = "10.41.0.0/16"

availability_zones = ["us-east-1a", "us-east-1b"]

single_nat_gateway  = true
deletion_protection = true
log_retention_days  = 90

msk_mode = "serverless"

rds_instance_class        = "db.t4g.small"
rds_multi_az              = false
rds_backup_retention_days = 7

archive_glacier_after_days = 30
reports_expire_days        = 60

worker_min_count = 1
worker_max_count = 4
