"""GET /hello/{name}, on an HTTP API (payload 2.0)."""
import json
import os


def handler(event, context):
    name = event["pathParameters"]["name"]
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "message": f"{os.environ['GREETING']}, {name}",
            "routeKey": event["routeKey"],
            "function": context.function_name,
        }),
    }
