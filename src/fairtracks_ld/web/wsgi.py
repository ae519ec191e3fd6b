"""WSGI entry point for the HTTP server (settings come from FAIRTRACKS_LD_* environment
variables): the Flask application behind its front door (see front)."""

from fairtracks_ld.web.app import create_app
from fairtracks_ld.web.front import FrontDoor

app = FrontDoor(create_app())
