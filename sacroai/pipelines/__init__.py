"""End-to-end study pipelines built from the package's parts.

``sacroai.pipelines.sij_mri``: semicoronal STIR → bones → quadrants → oedema →
SPARCC SIJ and ASAS, with a patient-level probability of active sacroiliitis.
``sacroai.pipelines.sij_ct_seg``: pelvic CT (HU) → sacrum and left/right hip bone labels
(``CTBoneSegmenter``) → sacroiliac-joint ROIs (``joint_rois``).
"""
