"""Provider credentials in AWS Secrets Manager; DynamoDB keeps only the secret's reference.

Reads are cached per container (Powertools Parameters, `max_age`), so dispatch, webhooks and cancel do not call
`GetSecretValue` once per letter or callback. The reference we store is `<secret ARN>#<VersionId>` of the value
written at connect: a reconnect (same secret, new version, possibly another provider) changes the reference, and a
container that sees a reference it has not read yet fetches again at once instead of using its cached value. A
rotation outside the service (same reference) is picked up when the cached value is `max_age` old.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

# How long a container keeps a secret before reading it again (Secrets Manager bills per 10,000 calls).
DEFAULT_MAX_AGE_S = 300
_VERSION = "#"  # never part of a secret ARN (names allow only letters, digits and /_+=.@-)


class SecretStore:
    def __init__(self, client: Any, prefix: str, max_age_s: int = DEFAULT_MAX_AGE_S):
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self.client = client
        self.prefix = prefix
        self.max_age_s = max_age_s
        self._provider = SecretsProvider(boto3_client=client)
        self._seen_version: dict[str, str] = {}

    def put_integration_secret(self, org_id: str, value: dict[str, Any], *, connection: int = 0) -> str:
        """Create (or, for a retried connect, replace) the secret of one connection of the org; returns its ARN.

        One secret per connection, never overwritten by a later one: letters sent through an earlier connection
        are still tracked with its credentials after a disconnect or a switch of provider. The reference carries the
        version (`ARN#VersionId`), so a container that cached an older value reads the new one at once."""
        name = f"{self.prefix}{org_id}/postal/{connection}" if connection else f"{self.prefix}{org_id}/postal"
        payload = json.dumps(value)
        try:
            resp = self.client.create_secret(Name=name, SecretString=payload, Tags=[{"Key": "org_id", "Value": org_id}])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            resp = self.client.put_secret_value(SecretId=name, SecretString=payload)
        return f"{resp['ARN']}{_VERSION}{resp['VersionId']}"

    def get(self, ref: str) -> dict[str, Any]:
        """The secret's current value; cached for `max_age_s` unless `ref` names a version not read here yet."""
        secret_id, _, version = ref.partition(_VERSION)
        newer = bool(version) and self._seen_version.get(secret_id) != version
        value = self._provider.get(secret_id, max_age=self.max_age_s, transform="json", force_fetch=newer)
        if version:
            self._seen_version[secret_id] = version
        assert isinstance(value, dict)
        return value
