"""The REST API's routes: every `Api` event of the template, matched the way API Gateway picks a resource."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from local.cfn import ApiEvent


@dataclass(frozen=True)
class Route:
    """One Api event: its path template compiled, and the function that serves it."""

    event: ApiEvent
    function: str
    pattern: re.Pattern[str]
    specificity: tuple[int, int]

    @classmethod
    def of(cls, event: ApiEvent, function: str) -> Route:
        """Compile `/v1/orgs/{org_id}` into a regex; `{name+}` is a greedy proxy parameter."""
        parts, literals, greedy = [], 0, 0
        for segment in event.path.strip("/").split("/"):
            if match := re.fullmatch(r"\{(\w+)(\+)?\}", segment):
                parts.append(f"(?P<{match[1]}>.+)" if match[2] else f"(?P<{match[1]}>[^/]+)")
                greedy += bool(match[2])
            else:
                parts.append(re.escape(segment))
                literals += 1
        # More literal segments win, then fewer greedy ones: what API Gateway calls "most specific".
        return cls(event, function, re.compile("^/" + "/".join(parts) + "$"), (literals, -greedy))


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, decoded path parameters, path_known): path_known without a route means 405."""
    matches = [(route, m) for route in routes if (m := route.pattern.match(path))]
    if not matches:
        return None, {}, False
    best = max(route.specificity for route, _ in matches)
    same_resource = [(r, m) for r, m in matches if r.specificity == best]
    for route, match in same_resource:
        if route.event.method in (method, "ANY"):
            return route, {k: unquote(v) for k, v in match.groupdict().items()}, True
    return None, {}, True
