"""The live stream: ``/api/v1/stream`` over WebSocket."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["stream"])
