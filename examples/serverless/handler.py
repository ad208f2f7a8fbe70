"""GET /hello/{name} on the service's REST API (payload 1.0, stage from --stage)."""
import json
import os


def hello(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "access-control-allow-origin": "*"},
        "body": json.dumps({
            "message": f"{os.environ['GREETING']}, {event['pathParameters']['name']}",
            "stage": event["requestContext"]["stage"],
            "resource": event["resource"],
            "function": context.function_name,
        }),
    }
