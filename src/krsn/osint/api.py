"""The REST routers of the OSINT investigation side."""

from krsn.enrichment.api import router as enrichment_router
from krsn.osint.collections.api import router as collections_router
from krsn.osint.entities.api import router as entities_router
from krsn.osint.extract.api import router as extract_router
from krsn.osint.graph.api import router as graph_router
from krsn.osint.search.api import router as search_router

routers = [
    collections_router,
    entities_router,
    graph_router,
    search_router,
    extract_router,
    enrichment_router,
]
