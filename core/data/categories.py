"""The 27 Rakuten France product type codes (``prdtypecode``) with names and real class counts.

Counts are those of the challenge's 84,916 labelled training products; the synthetic catalogue
reproduces them at full size.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    """One product type: its code, French and English names, and its count in the challenge data."""

    code: int
    label_fr: str
    label_en: str
    train_count: int

    @property
    def label(self) -> str:
        """Display name used across the app, e.g. ``"2583 · Pools & accessories"``."""
        return f"{self.code} · {self.label_en}"


CATEGORIES: tuple[Category, ...] = (
    Category(10, "Livres occasion", "Used books", 3116),
    Category(40, "Jeux vidéo import", "Imported video games", 2508),
    Category(50, "Accessoires gaming", "Gaming accessories", 1681),
    Category(60, "Consoles de jeux", "Game consoles", 832),
    Category(1140, "Figurines et produits dérivés", "Figurines & pop-culture merchandise", 2671),
    Category(1160, "Cartes à collectionner", "Trading cards", 3953),
    Category(1180, "Jeux de rôle et figurines", "Tabletop games & miniatures", 764),
    Category(1280, "Jouets enfant", "Children's toys", 4870),
    Category(1281, "Jeux de société", "Board games", 2070),
    Category(1300, "Modélisme et drones", "Model making & RC drones", 5045),
    Category(1301, "Vêtements bébé et jeux de bar", "Baby clothing & bar games", 807),
    Category(1302, "Jeux de plein air", "Outdoor games", 2491),
    Category(1320, "Puériculture", "Childcare", 3241),
    Category(1560, "Mobilier intérieur", "Indoor furniture", 5073),
    Category(1920, "Linge de maison", "Household linen", 4303),
    Category(1940, "Épicerie", "Groceries", 803),
    Category(2060, "Décoration", "Home decoration", 4993),
    Category(2220, "Animalerie", "Pet supplies", 824),
    Category(2280, "Journaux et revues occasion", "Used magazines & periodicals", 4760),
    Category(2403, "Lots de livres et magazines", "Book & magazine lots", 4774),
    Category(2462, "Consoles et jeux vidéo occasion", "Used consoles & game bundles", 1421),
    Category(2522, "Papeterie", "Stationery", 4989),
    Category(2582, "Mobilier de jardin", "Garden furniture", 2589),
    Category(2583, "Piscine et accessoires", "Pools & accessories", 10209),
    Category(2585, "Outillage de jardin et bricolage", "Garden tools & DIY", 2496),
    Category(2705, "Livres neufs", "New books", 2761),
    Category(2905, "Jeux PC en téléchargement", "Downloadable PC games", 872),
)
CATEGORY_BY_CODE: dict[int, Category] = {c.code: c for c in CATEGORIES}
CODES: tuple[int, ...] = tuple(c.code for c in CATEGORIES)
FULL_SIZE: int = sum(c.train_count for c in CATEGORIES)


def label_for(code: int) -> str:
    """Display name for a code, or ``"<code> · unknown"`` for a code outside the 27."""
    category = CATEGORY_BY_CODE.get(code)
    return category.label if category else f"{code} · unknown"
