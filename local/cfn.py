"""Read template.yaml the way CloudFormation/SAM would, for the local stack and the tests.

The local stack must never keep a second, hand-written list of tables, queues or routes: everything it creates
or serves is derived from the template through this module. It understands the short intrinsic tags (`!Ref`,
`!Sub`, ...), resolves intrinsics against deterministic local physical ids, merges SAM `Globals` into functions
and exposes the function event sources (Api, SQS, ScheduleV2) as small typed records.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

STACK_NAME = "postal-local"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

# CloudFormation's "AWS::NoValue": a property resolved to this sentinel is removed, as CloudFormation does.
NO_VALUE = object()

_SHORT_TAGS = (
    "Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub",
    "Transform", "And", "Equals", "If", "Not", "Or",
)  # fmt: skip


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long (JSON) form."""


def _construct(tag: str) -> Any:
    key = "Ref" if tag == "Ref" else "Condition" if tag == "Condition" else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":  # `!GetAtt A.B` is the only short form whose scalar means a list
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in (*_SHORT_TAGS, "Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template into plain dicts with long-form intrinsics."""
    with path.open(encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - _CfnLoader is a SafeLoader subclass
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise ValueError(f"{path} is not a CloudFormation template")
    return doc


# ------------------------------------------------------------------------------------------------- physical ids


@dataclass
class Physical:
    """What `!Ref` and `!GetAtt` return for one resource locally."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


# Properties that name a resource explicitly; without one, CloudFormation generates a name, we derive one.
_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::EventBus": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def _arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


# ------------------------------------------------------------------------------------------------- event sources


@dataclass(frozen=True)
class ApiEvent:
    """One `Type: Api` event: a REST route served by a function."""

    name: str
    path: str
    method: str
    authorizer: str | None  # logical name of the Lambda authorizer, None when Auth.Authorizer is NONE


@dataclass(frozen=True)
class SqsEvent:
    """One `Type: SQS` event source mapping."""

    name: str
    queue: str  # logical id of the queue
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class ScheduleEvent:
    """One `Type: ScheduleV2` event; `short_name` drops the `<stack>-` prefix (`nightly-collection`)."""

    name: str
    short_name: str
    expression: str
    input: Any


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer of the Api."""

    name: str
    function: str  # logical id of the authorizer function
    identity_headers: tuple[str, ...]
    ttl_seconds: int


@dataclass(frozen=True)
class FunctionSpec:
    """An `AWS::Serverless::Function` with `Globals.Function` merged in (raw properties kept for the tests)."""

    logical_id: str
    name: str
    handler: str
    environment: dict[str, str]  # the function's own variables only; see Template.globals_environment()
    timeout: int
    memory: int
    properties: dict[str, Any]
    api: tuple[ApiEvent, ...]
    sqs: tuple[SqsEvent, ...]
    schedules: tuple[ScheduleEvent, ...]


def _merge_globals(globals_: Any, own: Any) -> Any:
    """SAM's Globals rules: maps merge key by key, lists are appended, scalars of the resource win."""
    if isinstance(globals_, dict) and isinstance(own, dict):
        merged = dict(globals_)
        for key, value in own.items():
            merged[key] = _merge_globals(globals_[key], value) if key in globals_ else value
        return merged
    if isinstance(globals_, list) and isinstance(own, list):
        return [*globals_, *own]
    return own


# ------------------------------------------------------------------------------------------------- template


class Template:
    """A parsed template plus what is needed to resolve its intrinsics locally.

    `physical` starts with deterministic ids derived from logical ids and is refined by provisioning with what
    the (moto) services returned, e.g. queue URLs and secret ARNs.
    """

    def __init__(
        self,
        doc: Mapping[str, Any] | None = None,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.doc: dict[str, Any] = dict(doc if doc is not None else load_template())
        self.stack_name = stack_name
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        self.parameters: dict[str, str] = {
            name: str(spec.get("Default", "")) for name, spec in self.doc.get("Parameters", {}).items()
        }
        for name, value in (parameters or {}).items():
            if name not in self.parameters:
                raise KeyError(f"unknown template parameter {name!r}")
            self.parameters[name] = value
        self.pseudo = {
            "AWS::StackName": stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackId": _arn("cloudformation", f"stack/{stack_name}/00000000-0000-0000-0000-000000000000"),
        }
        self.physical: dict[str, Physical] = {}
        for logical_id in self.resources:
            self.physical[logical_id] = self._default_physical(logical_id)

    # -------------------------------------------------------------- resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one type whose Condition (if any) holds, in template order."""
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type and self.is_active(logical_id)
        }

    def is_active(self, logical_id: str) -> bool:
        """False when the resource has a Condition that does not hold locally (it would not be created)."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def condition(self, name: str) -> bool:
        """Evaluate one entry of the template's Conditions section."""
        return bool(self.resolve(self.doc.get("Conditions", {})[name]))

    def physical_name(self, logical_id: str) -> str:
        """Deterministic physical name: the explicit name property if set, else `<stack>-<logicalid>`."""
        resource = self.resources[logical_id]
        prop = _NAME_PROPERTY.get(resource["Type"])
        explicit = resource.get("Properties", {}).get(prop) if prop else None
        if explicit is not None:
            return str(self.resolve(explicit))
        if resource["Type"] == "AWS::S3::Bucket":  # bucket names must be lower-case DNS labels
            return f"{self.stack_name}-{logical_id}".lower()
        return f"{self.stack_name}-{logical_id}"

    def _default_physical(self, logical_id: str) -> Physical:
        resource_type = self.resources[logical_id]["Type"]
        if resource_type == "AWS::Serverless::Api":
            return Physical(ref=logical_id.lower(), attrs={"RootResourceId": "root"})
        if resource_type == "AWS::Serverless::LayerVersion":
            return Physical(ref=_arn("lambda", f"layer:{self.stack_name}-{logical_id}:1"))
        # Names are resolved lazily because an explicit name may itself use intrinsics.
        name = self.physical_name(logical_id)
        match resource_type:
            case "AWS::DynamoDB::Table":
                arn = _arn("dynamodb", f"table/{name}")
                return Physical(ref=name, attrs={"Arn": arn, "StreamArn": f"{arn}/stream/local"})
            case "AWS::S3::Bucket":
                return Physical(
                    ref=name,
                    attrs={
                        "Arn": f"arn:{PARTITION}:s3:::{name}",
                        "DomainName": f"{name}.s3.{URL_SUFFIX}",
                        "RegionalDomainName": f"{name}.s3.{REGION}.{URL_SUFFIX}",
                    },
                )
            case "AWS::SQS::Queue":
                url = f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT_ID}/{name}"
                return Physical(ref=url, attrs={"Arn": _arn("sqs", name), "QueueName": name, "QueueUrl": url})
            case "AWS::Events::EventBus":
                return Physical(ref=name, attrs={"Arn": _arn("events", f"event-bus/{name}"), "Name": name})
            case "AWS::SecretsManager::Secret":
                return Physical(ref=_arn("secretsmanager", f"secret:{name}"))
            case "AWS::Serverless::Function":
                return Physical(ref=name, attrs={"Arn": _arn("lambda", f"function:{name}")})
            case "AWS::SNS::Topic":
                arn = _arn("sns", name)
                return Physical(ref=arn, attrs={"TopicArn": arn, "TopicName": name})
            case "AWS::Logs::LogGroup":
                return Physical(ref=name, attrs={"Arn": _arn("logs", f"log-group:{name}:*")})
            case _:
                return Physical(ref=name, attrs={"Arn": _arn(resource_type.split("::")[1].lower(), name)})

    # -------------------------------------------------------------- intrinsics

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in `value` (recursively); `AWS::NoValue` entries are dropped."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._fn(key[4:], arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        raise KeyError(f"!Ref {name}: no such parameter, pseudo parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> str:
        """`!GetAtt logical_id.attribute` locally."""
        try:
            return self.physical[logical_id].attrs[attribute]
        except KeyError:
            raise KeyError(f"!GetAtt {logical_id}.{attribute} is not known locally") from None

    def _fn(self, fn: str, arg: Any) -> Any:
        match fn:
            case "GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(logical_id, self.resolve(attribute))
            case "Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self._sub(template, variables)
            case "Join":
                separator, items = self.resolve(arg)
                return str(separator).join(str(item) for item in items)
            case "Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            case "Split":
                separator, text = self.resolve(arg)
                return str(text).split(separator)
            case "If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.condition(name) else if_false)
            case "Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            case "Not":
                return not self.resolve(arg)[0]
            case "And":
                return all(self.resolve(arg))
            case "Or":
                return any(self.resolve(arg))
            case "FindInMap":
                mapping, first, second = self.resolve(arg)
                return self.doc["Mappings"][mapping][first][second]
            case "GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            case "Base64":
                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        raise NotImplementedError(f"Fn::{fn} is not supported by the local stack")

    _SUB_VAR = re.compile(r"\$\{([^}]+)\}")

    def _sub(self, template: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # `${!Literal}` is an escaped, literal `${Literal}`
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.physical:
                return self.get_att(*name.split(".", 1))
            return str(self._ref(name))

        return self._SUB_VAR.sub(replace, template)

    # -------------------------------------------------------------- SAM views

    def globals_environment(self) -> dict[str, str]:
        """`Globals.Function.Environment.Variables`, resolved to local physical ids."""
        variables = self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        return {name: str(value) for name, value in self.resolve(variables).items()}

    def functions(self) -> list[FunctionSpec]:
        """Every active serverless function with Globals merged and its event sources parsed."""
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        specs = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
            props = _merge_globals(globals_, resource.get("Properties", {}))
            own_env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            api, sqs, schedules = [], [], []
            for event_name, event in props.get("Events", {}).items():
                event_props = event.get("Properties", {})
                match event["Type"]:
                    case "Api":
                        api.append(self._api_event(event_name, event_props))
                    case "SQS":
                        sqs.append(self._sqs_event(event_name, event_props))
                    case "ScheduleV2" | "Schedule":
                        schedules.append(self._schedule_event(logical_id, event_name, event_props))
                    case other:
                        raise NotImplementedError(f"{logical_id}.{event_name}: event type {other} is not served")
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    name=self.physical[logical_id].ref,
                    handler=props["Handler"],
                    environment={k: str(v) for k, v in self.resolve(own_env).items()},
                    timeout=int(props.get("Timeout", 3)),
                    memory=int(props.get("MemorySize", 128)),
                    properties=props,
                    api=tuple(api),
                    sqs=tuple(sqs),
                    schedules=tuple(schedules),
                )
            )
        return specs

    def _api_event(self, name: str, props: Mapping[str, Any]) -> ApiEvent:
        authorizer = props.get("Auth", {}).get("Authorizer")
        if authorizer is None:
            authorizer = self.api_properties(props.get("RestApiId")).get("Auth", {}).get("DefaultAuthorizer")
        return ApiEvent(
            name=name,
            path=props["Path"],
            method=str(props["Method"]).upper(),
            authorizer=None if authorizer in (None, "NONE") else authorizer,
        )

    @staticmethod
    def _sqs_event(name: str, props: Mapping[str, Any]) -> SqsEvent:
        queue = props["Queue"]
        # The event names its queue with `!GetAtt Queue.Arn`; keep the logical id so we can find the URL.
        if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
            raise NotImplementedError(f"SQS event {name}: only `!GetAtt <Queue>.Arn` queues are supported")
        return SqsEvent(
            name=name,
            queue=queue["Fn::GetAtt"][0],
            batch_size=int(props.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        )

    def _schedule_event(self, function: str, name: str, props: Mapping[str, Any]) -> ScheduleEvent:
        full_name = str(self.resolve(props.get("Name", f"{function}-{name}")))
        raw_input = props.get("Input")
        return ScheduleEvent(
            name=full_name,
            short_name=full_name.removeprefix(f"{self.stack_name}-"),
            expression=str(self.resolve(props.get("ScheduleExpression", props.get("Schedule", "")))),
            input=json.loads(self.resolve(raw_input)) if raw_input is not None else {},
        )

    def api_properties(self, rest_api_id: Any = None) -> dict[str, Any]:
        """Properties of the Api an event belongs to (the only `AWS::Serverless::Api` when not given)."""
        apis = self.of_type("AWS::Serverless::Api")
        if isinstance(rest_api_id, dict) and "Ref" in rest_api_id:
            return dict(apis[rest_api_id["Ref"]].get("Properties", {}))
        if len(apis) != 1:
            raise ValueError("events without RestApiId need exactly one AWS::Serverless::Api")
        return dict(next(iter(apis.values())).get("Properties", {}))

    def authorizers(self) -> dict[str, Authorizer]:
        """The Api's Lambda authorizers by name (`FunctionArn: !GetAtt <Function>.Arn`)."""
        result = {}
        for name, config in self.api_properties().get("Auth", {}).get("Authorizers", {}).items():
            arn = config["FunctionArn"]
            if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
                raise NotImplementedError(f"authorizer {name}: FunctionArn must be `!GetAtt <Function>.Arn`")
            identity = config.get("Identity", {})
            result[name] = Authorizer(
                name=name,
                function=arn["Fn::GetAtt"][0],
                identity_headers=tuple(identity.get("Headers", ["Authorization"])),
                ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
            )
        return result

    def gateway_responses(self) -> dict[str, tuple[int, str]]:
        """The Api's GatewayResponses as {type: (status, application/json body)}."""
        result = {}
        for kind, config in self.api_properties().get("GatewayResponses", {}).items():
            body = config.get("ResponseTemplates", {}).get("application/json")
            if body is not None:
                result[kind] = (int(config.get("StatusCode", 500)), str(body))
        return result

    def stage(self) -> str:
        """The Api's stage name (`dev` with the default parameters)."""
        return str(self.resolve(self.api_properties().get("StageName", "Prod")))
