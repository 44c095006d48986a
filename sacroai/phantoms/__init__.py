"""Procedural phantoms with exact ground truth, deterministic from a seed."""
from .cohort import generate_cohort, reader_sheet, sheet_total
from .sij_mri import Lesion, SIJPhantom, generate_sij_mri, quadrant_label, random_lesions, sparcc_sheet

__all__ = ["generate_cohort", "reader_sheet", "sheet_total", "Lesion", "SIJPhantom", "generate_sij_mri", "quadrant_label", "random_lesions", "sparcc_sheet"]
