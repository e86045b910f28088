"""Yizhan: the union waystation registry API."""

from flask import Flask

from service.core.settings import Config


def create_app(config: type | dict | None = None) -> Flask:
    """Build the app: extensions bound, blueprints registered, nothing else."""
    from service.core.api import Request

    app = Flask(__name__)
    app.request_class = Request  # chunked bodies over the limit are a 413, not cut short
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    from service.access import partners
    from service.amenities.routes import blp as amenities_blp
    from service.changes.routes import blp as changes_blp
    from service.console import auth as console_auth
    from service.console.hours_pages import blp as console_hours_blp
    from service.console.import_pages import blp as console_import_blp
    from service.console.people_pages import blp as console_people_blp
    from service.console.routes import blp as console_blp
    from service.console.site_pages import blp as console_sites_blp
    from service.console.work_pages import blp as console_work_blp
    from service.core import docs, headers, problems
    from service.core.api import AsciiIntegerConverter, IdConverter, api
    from service.core.db import db
    from service.health.routes import blp as health_blp
    from service.holidays.routes import blp as holidays_blp
    from service.imports.routes import blp as imports_blp
    from service.ogc.routes import blp as ogc_blp
    from service.orgs.routes import blp as orgs_blp
    from service.reports.routes import blp as reports_blp
    from service.sites.admin import blp as sites_admin_blp
    from service.sites.routes import blp as sites_blp
    from service.tiles.routes import blp as tiles_blp
    from service.web.routes import blp as web_blp

    app.url_map.converters["int"] = AsciiIntegerConverter
    app.url_map.converters["id"] = IdConverter
    db.init_app(app)
    api.init_app(app)
    api.register_converter(AsciiIntegerConverter, lambda c: {"type": "integer"})
    api.register_converter(
        IdConverter, lambda c: {"type": "integer", "format": "int64", "minimum": 1}
    )
    problems.register(app)
    headers.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "yizhan tokens create"}
    )
    for blp in (
        sites_blp,
        sites_admin_blp,
        imports_blp,
        reports_blp,
        orgs_blp,
        changes_blp,
        tiles_blp,
        amenities_blp,
        holidays_blp,
        ogc_blp,
        health_blp,
        web_blp,
        console_blp,
        console_sites_blp,
        console_work_blp,
        console_import_blp,
        console_people_blp,
        console_hours_blp,
    ):
        api.register_blueprint(blp)
    docs.register(app)
    partners.init_app(app)
    console_auth.init_app(app)
    if app.config["TRUSTED_PROXIES"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app
