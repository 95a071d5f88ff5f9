"""Stripe's bracket notation: ``metadata[order]=42``, ``line_items[0][price]=price_…``, ``expand[]=customer``.

Form bodies and query strings are flat pairs; ``unflatten`` turns them into
the nested dicts and lists a JSON body would have carried. Indexed keys
(``items[0]``) stay dict keys here and become lists where a field expects a
list (``as_list``), because ``metadata[0]`` is a legitimate metadata key.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kassa.errors import InvalidRequest

# Stripe's deepest parameters (line_items[0][price_data][product_data][metadata][k]) are 5 levels.
MAX_DEPTH = 6

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise InvalidRequest(f"Invalid parameter name: {key}", code="parameter_invalid", param=key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        if len(path) > MAX_DEPTH:
            raise InvalidRequest(f"Parameter nested too deeply: {key[:100]}", code="parameter_invalid", param=path[0])
        node: Any = root
        for depth, segment in enumerate(path):
            last = depth == len(path) - 1
            if segment == "":
                # `name[]=value`: append to a list.
                if not isinstance(node, list):
                    raise InvalidRequest(f"Invalid array parameter: {key}", code="parameter_invalid", param=key)
                if last:
                    node.append(value)
                else:
                    node.append({})
                    node = node[-1]
                continue
            if not isinstance(node, dict):
                raise InvalidRequest(f"Conflicting parameter: {key}", code="parameter_invalid", param=key)
            if last:
                node[segment] = value
            else:
                following = path[depth + 1]
                default: Any = [] if following == "" else {}
                existing = node.get(segment)
                if existing is None or isinstance(existing, str):
                    node[segment] = default
                node = node[segment]
    return root


def as_list(value: Any) -> Any:
    """A list from a JSON list, a ``[]`` list, or a dict keyed 0, 1, 2 …; '' is the empty list."""
    if value == "":
        return []
    if isinstance(value, Mapping) and value and all(str(k).isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return value


def check_depth(data: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than any parameter can be (iteratively: no recursion to exhaust)."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= limit:
            raise InvalidRequest("The request body is nested too deeply.", code="parameter_invalid")
        stack.extend((child, depth + 1) for child in children)
