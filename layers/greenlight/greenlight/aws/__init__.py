"""Adapters to AWS: each implements a port of `greenlight.ports` or reads an AWS input.

- `verdict_table`: the verdict table in DynamoDB (VerdictStore);
- `s3_objects`: the moderated bucket (ObjectStore: inspect, exists, presign);
- `s3_events`: S3 "Object Created" announcements in SQS messages -> ObjectRef;
- `secret`: the Green keys and the callback secret from Secrets Manager;
- `clients`: the boto3 clients, built on first use.
"""
