"""2D drawings of hits as SVG (RDKit), for the web page and the API; made by the worker, stored as text."""

from __future__ import annotations

from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem.Draw import rdMolDraw2D

SIZE = (300, 220)


def svg_for_smiles(smiles: str, size: tuple[int, int] = SIZE) -> str | None:
    """A self-contained SVG, or None if the SMILES does not parse (it came from RDKit, so it should)."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        drawer = rdMolDraw2D.MolDraw2DSVG(*size)
        # A transparent background lets the page's theme show through; no XML header so it embeds inline too.
        options: Any = drawer.drawOptions()  # RDKit's stubs type the options' attributes wrongly
        options.clearBackground = False
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
        drawer.FinishDrawing()
        svg = drawer.GetDrawingText()
    return svg.replace("<?xml version='1.0' encoding='iso-8859-1'?>\n", "")
