"""Text cleaning: the model must see the same words however the marketplace encoded them."""

from __future__ import annotations

import pytest

from core.features import clean_text, combine_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        (None, ""),
        ("Caf&eacute; &amp; th&eacute;", "Café & thé"),
        ("Caf&amp;eacute;", "Café"),  # escaped twice
        ("<p>Lot de <b>3</b></p><br />romans", "Lot de 3 romans"),
        ("ligne1<br/>ligne2", "ligne1 ligne2"),
        ("  espaces \n\t multiples  ", "espaces multiples"),
        ("prix &lt; 10 &euro;", "prix < 10 €"),
        ("l&#39;été&nbsp;2024", "l'été 2024"),
        ("a < b et c > d", "a < b et c > d"),  # comparison signs are not tags
    ],
)
def test_clean_text(raw: str | None, clean: str) -> None:
    assert clean_text(raw) == clean


def test_combine_text_puts_title_first_and_drops_empty_description() -> None:
    assert combine_text("Piscine <b>ronde</b>", "") == "Piscine ronde"
    assert combine_text("Piscine", "<p>300 cm</p>") == "Piscine 300 cm"
