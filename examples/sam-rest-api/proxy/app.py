"""ANY /{proxy+} on a REST API (payload 1.0)."""
import json
import os


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "greeting": os.environ["GREETING"],
            "resource": event["resource"],
            "path": event["path"],
            "method": event["httpMethod"],
            "proxy": event["pathParameters"]["proxy"],
            "memory": context.memory_limit_in_mb,
        }),
    }
