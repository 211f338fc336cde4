"""(being written)"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("incidents", __name__)
