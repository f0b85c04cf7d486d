"""``/v1/model`` (what is served) and ``/v1/admin/*`` (retrain, rollback; need ``X-API-Key``).

The key itself is checked in ``api.guards`` before any admin view runs.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from api.backends import get_admin
from ingest.errors import ModelNotReady

bp = Blueprint("model_admin", __name__, url_prefix="/v1")


@bp.get("/model")
def describe_model() -> Response:
    """Describe the model being served; 503 model_not_ready if there is none yet."""
    description = get_admin().describe()
    if description is None:
        raise ModelNotReady("no trained model has been published yet")
    return jsonify(description)


@bp.post("/admin/retrain")
def retrain() -> tuple[Response, int]:
    """Start training a new model in the background; 409 if one is already training."""
    return jsonify(get_admin().start_retrain()), 202


@bp.post("/admin/rollback")
def rollback() -> Response:
    """Serve the previous model version again; 404 if there is none."""
    return jsonify(get_admin().rollback())
