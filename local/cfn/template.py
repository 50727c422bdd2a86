"""A CloudFormation template resolved locally: parameters, pseudo parameters, Conditions and the intrinsic
functions, against deterministic local physical ids (local/cfn/physical.py)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from local.cfn.loader import load_template
from local.cfn.physical import (
    ACCOUNT_ID,
    NAME_PROPERTY,
    PARTITION,
    REGION,
    STACK_NAME,
    URL_SUFFIX,
    Physical,
    arn,
    physical_for,
)

# CloudFormation's "AWS::NoValue": a property resolved to this sentinel is removed, as CloudFormation does.
NO_VALUE = object()


class CfnTemplate:
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
            "AWS::StackId": arn("cloudformation", f"stack/{stack_name}/00000000-0000-0000-0000-000000000000"),
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
        prop = NAME_PROPERTY.get(resource["Type"])
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
            return Physical(ref=arn("lambda", f"layer:{self.stack_name}-{logical_id}:1"))
        # Names are resolved lazily because an explicit name may itself use intrinsics.
        name = self.physical_name(logical_id)
        return physical_for(resource_type, name)

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
            case "If" | "Equals" | "Not" | "And" | "Or":
                return self._logic(fn, arg)
            case "FindInMap":
                mapping, first, second = self.resolve(arg)
                return self.doc["Mappings"][mapping][first][second]
            case "GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            case "Base64":
                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        raise NotImplementedError(f"Fn::{fn} is not supported by the local stack")

    def _logic(self, fn: str, arg: Any) -> Any:
        """The condition functions: Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or."""
        match fn:
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
        return any(self.resolve(arg))  # Or

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
