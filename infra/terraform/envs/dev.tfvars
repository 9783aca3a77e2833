# terraform plan -var-file=envs/dev.tfvars -var image_tag=<git sha>
environment = "dev"
region      = "us-east-1"
vpc_cidr    = "10.40.0.0/16"

availability_zones = ["us-east-1a", "us-east-1b"]

single_nat_gateway  = true
deletion_protection = false
log_retention_days  = 30

msk_mode = "serverless"

rds_instance_class        = "db.t4g.micro"
rds_multi_az              = false
rds_backup_retention_days = 3

archive_glacier_after_days = 30
reports_expire_days        = 30

worker_min_count = 1
worker_max_count = 2

service_sizes = {
  worker  = { cpu = 512, memory = 1024, desired_count = 1 }
  monitor = { cpu = 256, memory = 512, desired_count = 1 }
  trainer = { cpu = 1024, memory = 2048, desired_count = 1 }
  mlflow  = { cpu = 256, memory = 512, desired_count = 1 }
  ops     = { cpu = 256, memory = 512, desired_count = 0 }
  api     = { cpu = 256, memory = 1024, desired_count = 1 }
  ui      = { cpu = 256, memory = 1024, desired_count = 1 }
}
