"""Low-level DynamoDB helpers: (de)serialisation, conditional-write errors, pagination tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from postal.errors import BadRequest, PreconditionFailed, TooManyRequests

_ser = TypeSerializer()
_de = TypeDeserializer()

Item = dict[str, Any]


def _prepare(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python dict -> DynamoDB attribute map (None dropped, floats as Decimal)."""
    return {k: _ser.serialize(_prepare(v)) for k, v in item.items() if v is not None}


def serialize_value(value: Any) -> dict[str, Any]:
    return _ser.serialize(_prepare(value))


def deserialize(item: Mapping[str, Any]) -> Item:
    return {k: _normalise(_de.deserialize(v)) for k, v in item.items()}


def _normalise(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; whole numbers become int so models validate cleanly."""
    if isinstance(value, Decimal) and value == value.to_integral_value() and "." not in str(value):
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


# DynamoDB keys of this table are short ids; anything longer in a cursor was not minted here.
MAX_CURSOR_VALUE = 1024


def encode_cursor(last_evaluated_key: Mapping[str, Any] | None) -> str | None:
    """Opaque pagination token for API clients."""
    if not last_evaluated_key:
        return None
    raw = json.dumps(deserialize(last_evaluated_key), default=str, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None, *, expected_pk: str, key_names: Collection[str]) -> dict[str, Any] | None:
    """Token -> ExclusiveStartKey; a token minted for another partition (another org), or one whose shape is not
    exactly the query's key (names, string values), is refused with a 400 instead of reaching DynamoDB."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as exc:
        raise BadRequest("invalid pagination cursor", code="invalid_cursor") from exc
    if (
        not isinstance(key, dict)
        or set(key) != set(key_names)
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_CURSOR_VALUE for v in key.values())
        or expected_pk not in key.values()
    ):
        raise BadRequest("invalid pagination cursor", code="invalid_cursor")
    return serialize(key)


def is_conditional_failure(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def translate(exc: ClientError, message: str = "the item changed concurrently") -> Exception:
    """Map a boto3 ClientError to a domain error where one fits; else return it unchanged."""
    code = exc.response.get("Error", {}).get("Code", "")
    if is_conditional_failure(exc):
        return PreconditionFailed(message)
    if code in {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}:
        return TooManyRequests("the service is busy, retry shortly", code="throttled")
    return exc
