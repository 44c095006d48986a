"""Procedural phantoms with exact ground truth, deterministic from a seed."""
from .hip_xray import HipXrayPhantom, croft_grade, generate_hip_cohort, generate_hip_xray, implied_kl, random_hip_features
from .sij_ct import SIJCTPhantom, generate_ct_cohort, generate_sij_ct
from .pelvis_ct import PelvisCTPhantom, generate_pelvis_ct
from .cohort import generate_cohort, reader_sheet, sheet_total
from .sij_mri import Lesion, SIJPhantom, generate_sij_mri, quadrant_label, random_lesions, sparcc_sheet
from .sij_mri_multiseq import generate_multiseq_case, generate_multiseq_cohort

__all__ = ["HipXrayPhantom", "croft_grade", "generate_hip_cohort", "generate_hip_xray", "implied_kl",
           "random_hip_features", "SIJCTPhantom", "generate_ct_cohort", "generate_sij_ct", "PelvisCTPhantom",
           "generate_pelvis_ct", "generate_cohort", "reader_sheet", "sheet_total", "Lesion", "SIJPhantom",
           "generate_sij_mri", "quadrant_label", "random_lesions", "sparcc_sheet",
           "generate_multiseq_case", "generate_multiseq_cohort"]
