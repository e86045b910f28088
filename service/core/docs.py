"""Serve Swagger UI's assets from the installed swagger-ui-bundle (the machines are offline)."""

from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("swagger_ui_assets", __name__)


@bp.route("/static/swagger-ui/<path:filename>")
def asset(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
