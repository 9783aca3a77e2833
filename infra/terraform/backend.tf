# Remote state in S3, partially configured: every environment has its own state key.
#   terraform init -backend-config=envs/<env>.backend.hcl
terraform {
  backend "s3" {}
}
