"""Imports every domain's tables so that ``Base.metadata`` holds the whole schema."""

from krsn.dashboards import models as dashboards_models
from krsn.db.base import Base
from krsn.detection import models as detection_models
from krsn.enrichment import models as enrichment_models
from krsn.feeds import models as feeds_models
from krsn.identity import models as identity_models
from krsn.indicators import models as indicators_models
from krsn.ml import models as ml_models
from krsn.osint import models as osint_models
from krsn.osint.entities import models as osint_entities_models
from krsn.osint.graph import models as osint_graph_models
from krsn.sharing import models as sharing_models
from krsn.sharing.stix import models as stix_models
from krsn.sharing.taxii import models as taxii_models

__all__ = [
    "Base",
    "dashboards_models",
    "detection_models",
    "enrichment_models",
    "feeds_models",
    "identity_models",
    "indicators_models",
    "ml_models",
    "osint_entities_models",
    "osint_graph_models",
    "osint_models",
    "sharing_models",
    "stix_models",
    "taxii_models",
]
