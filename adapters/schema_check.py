"""A small JSON-Schema validator for the structured-output emulation.

Why not `jsonschema`: `adapters` may import only stdlib, openai and pydantic. The subset covers what
`openai.lib._pydantic.to_strict_json_schema` and hand-written `json_schema` response formats produce.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _resolve(ref: str, root: dict) -> dict:
    if not ref.startswith("#/"):
        return {}
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def validate(instance: Any, schema: dict, *, limit: int = 5) -> list[str]:
    """Errors as 'path: problem' strings (at most `limit`); empty when the instance conforms."""
    errors: list[str] = []
    _check(instance, schema, schema, "$", errors, limit)
    return errors[:limit]


def _check(value: Any, schema: Any, root: dict, path: str, errors: list[str], limit: int) -> None:
    if len(errors) >= limit or not isinstance(schema, dict):
        return
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, path, errors, limit)
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    typ = schema.get("type")
    if typ is not None:
        names = typ if isinstance(typ, list) else [typ]
        if not any(_type_ok(value, n) for n in names):
            errors.append(f"{path}: expected {'/'.join(names)}, got {type(value).__name__}")
            return
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if not _first_error(value, b, root)]
            if not branches or (key == "oneOf" and len(branches) > 1):
                errors.append(f"{path}: does not match {key}")
    for sub in schema.get("allOf", []):
        _check(value, sub, root, path, errors, limit)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing required property {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                _check(item, props[name], root, f"{path}.{name}", errors, limit)
            elif extra is False:
                errors.append(f"{path}: unexpected property {name!r}")
            elif isinstance(extra, dict):
                _check(item, extra, root, f"{path}.{name}", errors, limit)
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _check(item, items, root, f"{path}[{i}]", errors, limit)
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum {schema['maximum']}")


def _first_error(value: Any, schema: Any, root: dict) -> list[str]:
    errs: list[str] = []
    _check(value, schema, root, "$", errs, 1)
    return errs
