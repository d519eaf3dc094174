"""Validate SBI messages against the 3GPP OpenAPI files (TS 29.501 §5: the YAMLs are normative).

    v = OpenApiValidator(Path("../shared/3gpp-openapi"))
    errors = v.validate_exchange("POST", "/nausf-auth/v1/ue-authentications", req_body,
                                 201, resp_body)          # [] when both bodies conform

The 3GPP files reference each other (``TS29571_CommonData.yaml#/components/schemas/Uri``) and
even whole path items across files (Nudr_DR -> TS29505); both are resolved. Schemas are checked
with OpenAPI 3.0 semantics (``nullable``) by ``openapi-schema-validator``. The YAML files are not
shipped with fivecore: tests read them from the shared folder at test time.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

BASE = "https://3gpp.invalid/"

#: API root path -> OpenAPI file
API_FILES: dict[str, str] = {
    "/nnrf-nfm/v1": "TS29510_Nnrf_NFManagement.yaml",
    "/nnrf-disc/v1": "TS29510_Nnrf_NFDiscovery.yaml",
    "/nausf-auth/v1": "TS29509_Nausf_UEAuthentication.yaml",
    "/nudm-ueau/v1": "TS29503_Nudm_UEAU.yaml",
    "/nudm-uecm/v1": "TS29503_Nudm_UECM.yaml",
    "/nudm-sdm/v2": "TS29503_Nudm_SDM.yaml",
    "/nudr-dr/v2": "TS29504_Nudr_DR.yaml",
}


class OpenApiValidator:
    """Request/response validation against the 3GPP OpenAPI documents in ``spec_dir``."""

    def __init__(self, spec_dir: Path) -> None:
        from openapi_schema_validator import OAS30Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.dir = Path(spec_dir)
        self._docs: dict[str, Any] = {}
        self._validator_cls = OAS30Validator

        def retrieve(uri: str) -> Resource:
            name = uri[len(BASE):] if uri.startswith(BASE) else uri
            return DRAFT4.create_resource(self.doc(name))

        self.registry: Registry = Registry(retrieve=retrieve)  # type: ignore[call-arg]
        self._ops: dict[str, list[tuple[re.Pattern[str], str, dict[str, Any]]]] = {}

    def doc(self, name: str) -> Any:
        if name not in self._docs:
            self._docs[name] = yaml.safe_load((self.dir / name).read_text())
        return self._docs[name]

    def _deref(self, obj: Any, file: str) -> tuple[Any, str]:
        """Follow ``$ref`` chains of non-schema objects (path items, responses, request bodies)."""
        for _ in range(10):
            if not isinstance(obj, dict) or "$ref" not in obj:
                return obj, file
            ref = obj["$ref"]
            target_file, _, pointer = ref.partition("#")
            file = target_file or file
            cur = self.doc(file)
            for tok in pointer.split("/")[1:]:
                cur = cur[unquote(tok).replace("~1", "/").replace("~0", "~")]
            obj = cur
        return obj, file

    def operations(self, api_root: str) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
        if api_root not in self._ops:
            file = API_FILES[api_root]
            ops = []
            for tmpl, item in (self.doc(file).get("paths") or {}).items():
                item, item_file = self._deref(item, file)
                rx = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(tmpl)) + "$")
                for method, op in item.items():
                    if method in ("get", "put", "post", "patch", "delete"):
                        ops.append((rx, method.upper() + " " + item_file, op))
            # Literal templates must win over templated ones ("/nf-instances" vs "/{id}").
            ops.sort(key=lambda o: o[0].pattern.count("[^/]+"))
            self._ops[api_root] = ops
        return self._ops[api_root]

    def find(self, method: str, path: str) -> tuple[dict[str, Any], str] | None:
        """(operation object, file it lives in) for ``method path``, or None."""
        for root in API_FILES:
            if path.startswith(root + "/") or path == root:
                rest = path[len(root):] or "/"
                for rx, key, op in self.operations(root):
                    m, file = key.split(" ", 1)
                    if m == method.upper() and rx.match(rest):
                        return op, file
        return None

    def _check(self, schema: Any, file: str, instance: Any, what: str) -> list[str]:
        # Local refs of the inline schema point into the file that holds it.
        root = _anchor(schema, file)
        validator = self._validator_cls(root, registry=self.registry,
                                        format_checker=self._validator_cls.FORMAT_CHECKER)
        errs = []
        for e in validator.iter_errors(instance):
            loc = "/".join(str(p) for p in e.absolute_path)
            errs.append(f"{what} /{loc}: {e.message[:300]}")
        return errs

    def validate_request(self, method: str, path: str, body: Any) -> list[str]:
        found = self.find(method, path)
        if found is None:
            return [f"no operation {method} {path} in the 3GPP OpenAPI files"]
        op, file = found
        rb, rb_file = self._deref(op.get("requestBody"), file)
        if rb is None:
            return []
        content = rb.get("content") or {}
        media = next((m for m in content if "json" in m), None)
        if media is None or body is None:
            return []
        schema = content[media].get("schema")
        return self._check(schema, rb_file, body, f"request {method} {path}") if schema else []

    def validate_response(self, method: str, path: str, status: int, body: Any, content_type: str = "") -> list[str]:
        found = self.find(method, path)
        if found is None:
            return [f"no operation {method} {path} in the 3GPP OpenAPI files"]
        op, file = found
        responses = op.get("responses") or {}
        resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if resp is None:
            return [f"{method} {path}: status {status} is not documented"]
        resp, resp_file = self._deref(resp, file)
        content = resp.get("content") or {}
        if not content:
            return [] if body in (None, b"", "") else [f"{method} {path} {status}: body where the spec has none"]
        if body is None:
            return [f"{method} {path} {status}: the spec requires a body"]
        media = None
        if content_type:
            media = content_type.split(";")[0].strip()
            if media not in content:
                return [f"{method} {path} {status}: content-type {media} not in {sorted(content)}"]
        media = media or next(iter(content))
        schema = content[media].get("schema")
        return self._check(schema, resp_file, body, f"response {method} {path} {status}") if schema else []

    def validate_exchange(self, method: str, path: str, req_body: Any, status: int, resp_body: Any,
                          content_type: str = "") -> list[str]:
        return self.validate_request(method, path, req_body) + self.validate_response(
            method, path, status, resp_body, content_type)

    def schema_errors(self, file: str, name: str, instance: Any) -> list[str]:
        """Validate ``instance`` against ``components/schemas/name`` of ``file``."""
        return self._check({"$ref": f"#/components/schemas/{name}"}, file, instance, f"{name}")


def _anchor(schema: Any, file: str) -> Any:
    if isinstance(schema, dict):
        out = {k: _anchor(v, file) for k, v in schema.items()}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = file + ref
        return out
    if isinstance(schema, list):
        return [_anchor(v, file) for v in schema]
    return schema


@functools.lru_cache(maxsize=4)
def validator_for(spec_dir: str) -> OpenApiValidator:
    return OpenApiValidator(Path(spec_dir))
