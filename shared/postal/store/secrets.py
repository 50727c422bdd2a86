"""Provider credentials in AWS Secrets Manager; DynamoDB keeps only the secret's reference."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError


class SecretStore:
    def __init__(self, client: Any, prefix: str):
        self.client = client
        self.prefix = prefix

    def put_integration_secret(self, org_id: str, value: dict[str, Any], *, connection: int = 0) -> str:
        """Create (or, for a retried connect, replace) the secret of one connection of the org; returns its ARN.

        One secret per connection, never overwritten by a later one: letters sent through an earlier connection
        are still tracked with its credentials after a disconnect or a switch of provider."""
        name = f"{self.prefix}{org_id}/postal/{connection}" if connection else f"{self.prefix}{org_id}/postal"
        payload = json.dumps(value)
        try:
            resp = self.client.create_secret(Name=name, SecretString=payload, Tags=[{"Key": "org_id", "Value": org_id}])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            resp = self.client.put_secret_value(SecretId=name, SecretString=payload)
        return str(resp["ARN"])

    def get(self, ref: str) -> dict[str, Any]:
        resp = self.client.get_secret_value(SecretId=ref)
        value: dict[str, Any] = json.loads(resp["SecretString"])
        return value
