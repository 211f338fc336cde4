"""(being written)"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("partner", __name__)
