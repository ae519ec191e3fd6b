"""WSGI entry point for the HTTP server (settings come from FAIRTRACKS_LD_* environment
variables): the Flask application behind its front door (see front)."""

from fairtracks_ld.web.app import create_app
from fairtracks_ld.web.front import FrontDoor
from fairtracks_ld.web.settings import Settings, forget_secrets

settings = Settings()
forget_secrets()  # before any worker process starts and before the first request's environ
app = FrontDoor(create_app(settings))
