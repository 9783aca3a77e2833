# terraform init -backend-config=envs/dev.backend.hcl
# The state bucket is created once, outside this configuration (docs/deploy.md).
bucket       = "tweetstream-terraform-state"
key          = "tweetstream/dev/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
