"""The HTTP edge every resource shares: the Api (OpenAPI, problem+json errors documented),
the Blueprint whose query parsing is strict, path converters and the request class."""

import json

import flask
import flask_smorest
import marshmallow as ma
from flask import request
from flask_smorest import Api, abort
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error response carries them."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Raw(metadata={"description": "Validation: each bad field to its messages"})


class ProblemApi(Api):
    """flask-smorest's Api, documenting errors as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/problem+json"
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE  # back to the class default for successes


api = ProblemApi()


class AsciiIntegerConverter(IntegerConverter):
    """`<int:...>` that matches ASCII digits only (werkzeug's `\\d` takes "１" and "١" too)."""

    regex = r"[0-9]+"


class IdConverter(AsciiIntegerConverter):
    """`<id:...>` in routes: a positive bigint in ASCII digits; anything else is a 404."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, min=1, max=2**63 - 1)


class BoundedStream(LimitedStream):
    """A body of unknown length (chunked) read up to max_content_length: more is a 413.

    Werkzeug's stream stops reading such a body at the maximum without an error, so a
    chunked upload over the limit would be parsed cut short (an import could silently lose
    its last rows). Reading it whole now probes for one byte more.
    """

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class Request(flask.Request):
    @cached_property
    def stream(self):
        limit = self.max_content_length  # read late: imports raise it before reading
        if self.content_length is None and limit is not None:
            if self.environ.get("wsgi.input_terminated"):
                return BoundedStream(self.environ["wsgi.input"], limit, is_max=True)
        return super().stream


class StrictParser(FlaskParser):
    """Query schemas decide about unknown parameters (ours raise: a typo is a 422)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }
    _schemas: dict[type, ma.Schema] = {}  # one per schema class, shared by the process

    def _get_schema(self, argmap, req):
        """One instance per schema class, not a new one per request: building a schema copies
        its fields (~0.3 ms, a tenth of a nearby request); loading does not change it."""
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return ma.missing
        try:
            return load_json(req.get_data(cache=True).decode("utf-8"))
        except UnicodeDecodeError:
            abort(400, message="Invalid JSON body: not UTF-8.")
        except RecursionError:  # "[[[[..." deeper than the interpreter's stack
            abort(400, message="Invalid JSON body: nested too deeply.")
        except NumberTooLong as exc:
            abort(400, message=f"Invalid JSON body: {exc}")
        except ValueError:
            abort(400, message="Invalid JSON body.")


class NumberTooLong(ValueError):
    pass


# Longer than any number a field takes (an int64 has 19 digits): refused before int() or
# float() reads it, so no number can cost time or hit Python's 4,300-digit limit.
MAX_NUMBER_CHARS = 40


def _number(convert):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise NumberTooLong(f"a number longer than {MAX_NUMBER_CHARS} characters.")
        return convert(text)

    return parse


def load_json(text: str):
    """json.loads with every number's length bounded first (ValueError for bad JSON)."""
    return json.loads(text, parse_int=_number(int), parse_float=_number(float))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()


def require_json() -> None:
    """Before a JSON write: 415 unless the body is declared as JSON."""
    if request.method in ("POST", "PATCH", "PUT") and not request.is_json:
        abort(415, message="Send the body as application/json.")


class PageBlueprint(flask_smorest.Blueprint):
    """A blueprint the flask-smorest Api registers without documenting: no paths, no tag."""

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        # Api.register_blueprint adds a tag for every blueprint right after this call;
        # an empty tag would show as an empty section in /docs, so it is dropped.
        add_tag = spec.tag
        spec.tag = lambda tag: spec if tag.get("name") == name else add_tag(tag)
