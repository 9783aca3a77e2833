# The API's bearer tokens: one Secrets Manager secret whose value is the JSON object
# reviewer name -> token (TWEETSTREAM_API_TOKENS). Terraform creates the secret, never its
# value: the tokens stay out of the repository and out of the Terraform state. An operator
# puts the value once (docs/deploy.md); ECS injects it into the api and ui tasks.
resource "aws_secretsmanager_secret" "api_tokens" {
  #checkov:skip=CKV2_AWS_57:The tokens are issued to named reviewers by hand; there is no rotation Lambda that could hand new tokens to them (rotate with put-secret-value, see docs/deploy.md).
  name                    = "${var.name}/api-tokens"
  description             = "tweetstream API bearer tokens (${var.name}): JSON object reviewer name -> token, injected as TWEETSTREAM_API_TOKENS"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}
