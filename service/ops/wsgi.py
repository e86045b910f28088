"""WSGI entry point for gunicorn: `gunicorn service.ops.wsgi:app`."""

from service import create_app

app = create_app()
