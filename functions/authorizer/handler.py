"""REQUEST authorizer: `Authorization: Bearer <key>` -> the org it belongs to, or the admin principal."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from postal import bootstrap
from postal.auth import bearer_token, hash_key, same_secret

logger = Logger()


def _policy(principal: str, method_arn: str, context: dict[str, str]) -> dict[str, Any]:
    # API Gateway caches this answer per key for every route, so allow the whole API, not just this method.
    arn_base = "/".join(method_arn.split("/")[:2])
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{arn_base}/*"}],
        },
        "context": context,
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = bearer_token(headers.get("authorization"))
    method_arn = str(event.get("methodArn", "arn:aws:execute-api:local:0:api/stage/GET/"))
    if token is None:
        raise Exception("Unauthorized")  # the exact message API Gateway turns into a 401
    if same_secret(token, bootstrap.admin_key().current()):
        return _policy("admin", method_arn, {"org_id": "", "is_admin": "true"})
    org_id = bootstrap.api_keys().org_for_key(hash_key(token))
    if org_id is None:
        logger.info("unknown API key")
        raise Exception("Unauthorized")
    return _policy(org_id, method_arn, {"org_id": org_id, "is_admin": "false"})
