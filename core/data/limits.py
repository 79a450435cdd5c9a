"""How long a product's text may be: one definition for the importer and the predictor API.

A product the importer accepts must be one the API would answer, and the other way round, so both
read their limits from here (``core`` never imports ``api``; ``api/schemas.py`` imports these).
"""

from __future__ import annotations

MAX_DESIGNATION = 1_000  # the challenge's longest title is 250 characters
MAX_DESCRIPTION = 50_000  # and its longest description about 12,500
