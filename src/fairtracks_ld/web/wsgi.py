"""WSGI entry point for gunicorn (settings come from FAIRTRACKS_LD_* environment variables)."""

from fairtracks_ld.web.app import create_app

app = create_app()
