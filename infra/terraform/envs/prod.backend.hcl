# terraform init -backend-config=envs/prod.backend.hcl
# The state bucket is created once, outside this configuration (docs/deploy.md).
bucket       = "tweetstream-terraform-state"
key          = "tweetstream/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
