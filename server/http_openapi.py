"""The OpenAPI 3.1 document of the HTTP face (server/http.py), served at /v1/openapi.json.

The paths are written here; the message schemas are read from the proto descriptors (the
proto3 JSON mapping: lowerCamelCase names, 64-bit integers as strings, enums by name), so they
cannot drift from protos/vitrine/v1/assets.proto. tests/test_server_http.py checks that every
route of the app is documented here and every documented operation is a route.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from vitrine.v1 import assets_pb2 as pb

_INT32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32,
          FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32}
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
          FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _field_schema(field: FieldDescriptor, schemas: dict[str, Any]) -> dict:
    if field.message_type is not None:
        item = _message_schema(field.message_type, schemas)
    elif field.enum_type is not None:
        item = {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    elif field.type in _INT32:
        item = {"type": "integer"}
    elif field.type in _INT64:  # proto3 JSON writes these as strings and reads either
        item = {"type": ["string", "integer"], "format": "int64"}
    elif field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        item = {"type": "number"}
    elif field.type == FieldDescriptor.TYPE_BOOL:
        item = {"type": "boolean"}
    elif field.type == FieldDescriptor.TYPE_BYTES:
        item = {"type": "string", "contentEncoding": "base64"}
    else:
        item = {"type": "string"}
    return {"type": "array", "items": item} if field.is_repeated else item


def _message_schema(message: Descriptor, schemas: dict[str, Any]) -> dict:
    """A $ref to `message`'s schema, adding it (and the messages it uses) to `schemas`."""
    if message.name not in schemas:
        schemas[message.name] = {}  # placeholder first: messages may refer to each other
        schemas[message.name] = {
            "type": "object",
            "description": f"{message.full_name} in the proto3 JSON mapping (snake_case field "
                           "names are accepted too)",
            "properties": {f.json_name: _field_schema(f, schemas) for f in message.fields},
        }
    return _ref(message.name)


def _error(description: str, headers: dict | None = None) -> dict:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        out["headers"] = headers
    return out


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_HEADER = {"schema": {"type": "string"}}
_ERRORS = {
    "400": _error("INVALID_ARGUMENT: a malformed body or an option out of range (`field` names "
                  "it, e.g. `options.max_triangles`, and the message the allowed range)"),
    "404": _error("NOT_FOUND: unknown model, category, asset or file (`field` says which)"),
    "429": _error("RESOURCE_EXHAUSTED: the generation queue is full",
                  {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}),
    "500": _error("INTERNAL: a generation failed"),
    "503": _error("UNAVAILABLE: the server is shutting down"),
}
_ASSET_ID = {"name": "asset_id", "in": "path", "required": True,
             "description": "AssetHeader.assetId: 32 lowercase hex digits",
             "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
_FILE_NAME = {"name": "file_name", "in": "path", "required": True,
              "description": "AssetFile.name, e.g. lod2.glb", "schema": {"type": "string"}}
_FILE_HEADERS = {
    "ETag": {"description": "the file's sha256 (AssetFile.sha256), quoted", **_HEADER},
    "Cache-Control": {"description": "public, max-age=31536000, immutable (ids are content "
                                     "addresses)", **_HEADER},
    "Accept-Ranges": {"description": "bytes", **_HEADER},
    "Content-Length": {"schema": {"type": "integer"}},
}
_FILE_PARAMS = [
    _ASSET_ID, _FILE_NAME,
    {"name": "Range", "in": "header", "description": "one byte range: bytes=FIRST-[LAST] or "
     "bytes=-SUFFIX (several ranges, or another unit, are ignored: 200 with the whole file)",
     "schema": {"type": "string"}},
    {"name": "If-Range", "in": "header", "description": "the ETag the Range was made against; "
     "another value gets the whole file", "schema": {"type": "string"}},
    {"name": "If-None-Match", "in": "header", "description": "ETags the client holds: 304 when "
     "one matches", "schema": {"type": "string"}},
]


def _file_operation(summary: str) -> dict:
    return {
        "summary": summary,
        "description": "An asset evicted from the cache is regenerated from its remembered "
                       "request (the same bytes), as the gRPC Fetch does.",
        "parameters": _FILE_PARAMS,
        "responses": {
            "200": {"description": "the whole file; Content-Type is AssetFile.mimeType",
                    "headers": _FILE_HEADERS,
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "206": {"description": "the requested byte range",
                    "headers": {**_FILE_HEADERS, "Content-Range": {
                        "description": "bytes FIRST-LAST/SIZE", **_HEADER}},
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "304": {"description": "If-None-Match matched the ETag", "headers": _FILE_HEADERS},
            "404": _ERRORS["404"],
            "416": _error("OUT_OF_RANGE: the range starts past the end of the file",
                          {"Content-Range": {"description": "bytes */SIZE", **_HEADER}}),
            **{k: v for k, v in _ERRORS.items() if k in ("429", "500", "503")},
        },
    }


def _preflight(path_params: list[dict]) -> dict:
    return {"summary": "CORS preflight", "parameters": path_params,
            "responses": {"204": {"description": "Access-Control-Allow-* headers"}}}


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["code", "message", "field"], "properties": {
            "code": {"type": "string", "description": "a google.rpc.Code name, as the gRPC "
                     "side's status: INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, "
                     "UNAVAILABLE, OUT_OF_RANGE, INTERNAL, ..."},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the offending field, e.g. "
                      "options.max_triangles; empty when none"}}},
    }
    header = _message_schema(pb.AssetHeader.DESCRIPTOR, schemas)
    schemas["Asset"] = {
        "type": "object", "required": ["header", "files"],
        "description": "An asset's header and, in the header's file order (coarsest level of "
                       "detail first), each file's URL, a path on this server",
        "properties": {"header": header, "files": {"type": "array", "items": {
            "type": "object", "required": ["name", "url"], "properties": {
                "name": {"type": "string", "example": "lod2.glb"},
                "url": {"type": "string", "example": "/v1/assets/0123456789abcdef0123456789abcdef/lod2.glb"}}}}},
    }
    catalog = _message_schema(pb.ListModelsResponse.DESCRIPTOR, schemas)
    request = _message_schema(pb.GenerateRequest.DESCRIPTOR, schemas)
    asset = _json("the asset", _ref("Asset"))
    viewer = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "a file under clients/web (may contain slashes); empty = index.html"}
    paths = {
        "/v1/models": {
            "get": {"summary": "The catalog: every model, its categories and options",
                    "responses": {"200": _json("ListModelsResponse", catalog)}},
            "options": _preflight([])},
        "/v1/generate": {
            "post": {"summary": "Generate one asset (or find it in the cache)",
                     "parameters": [{
                         "name": "X-Request-Timeout", "in": "header", "required": False,
                         "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
                         "description": "seconds the client will wait: refused at once (429) "
                                        "when the queue says it cannot be done in time; 504 "
                                        "and the work stopped when it passes"}],
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": request}}},
                     "responses": {"200": asset, **_ERRORS}},
            "options": _preflight([])},
        "/v1/assets/{asset_id}": {
            "get": {"summary": "An asset's header and file URLs", "parameters": [_ASSET_ID],
                    "responses": {"200": asset,
                                  **{k: v for k, v in _ERRORS.items() if k != "400"}}},
            "options": _preflight([_ASSET_ID])},
        "/v1/assets/{asset_id}/{file_name}": {
            "get": _file_operation("One file of an asset: its bytes"),
            "head": _file_operation("One file's headers (size, ETag), no body"),
            "options": _preflight([_ASSET_ID, _FILE_NAME])},
        "/v1/openapi.json": {
            "get": {"summary": "This document",
                    "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})}},
            "options": _preflight([])},
        "/viewer": {
            "get": {"summary": "Redirects to /viewer/ (the query string kept)",
                    "responses": {"302": {"description": "Location: /viewer/"}}},
            "options": _preflight([])},
        "/viewer/{path}": {
            "get": {"summary": "The web viewer (clients/web): its static files",
                    "parameters": [viewer],
                    "responses": {"200": {"description": "the file"},
                                  "404": _error("NOT_FOUND: no such file, or no viewer "
                                                "installed")}},
            "options": _preflight([viewer])},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "vitrine HTTP API", "version": "v1",
                 "description": "The catalog, generation and asset files of a vitrine server as "
                                "JSON and plain GETs, beside its gRPC AssetService (same cache, "
                                "validation and limits). Bodies are the proto3 JSON mapping of "
                                "the vitrine.v1 messages. Every response carries "
                                "Access-Control-Allow-Origin: *."},
        "paths": paths,
        "components": {"schemas": schemas},
    }


OPENAPI = build()
