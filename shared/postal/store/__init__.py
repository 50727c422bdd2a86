"""Data access: the only code that touches DynamoDB, S3, SQS, EventBridge and Secrets Manager."""
