"""The SAM views of the template: functions with `Globals.Function` merged in, their event sources (Api, SQS,
ScheduleV2) as small typed records, and the Api's authorizers, gateway responses and stage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.cfn.template import CfnTemplate


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


class Template(CfnTemplate):
    """The template as SAM reads it (see CfnTemplate for the resources and intrinsics)."""

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
