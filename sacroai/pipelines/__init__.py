"""End-to-end study pipelines built from the package's parts.

``sacroai.pipelines.sij_mri``: semicoronal STIR → bones → quadrants → oedema →
SPARCC SIJ and ASAS, with a patient-level probability of active sacroiliitis.

``sacroai.pipelines.sij_ct``: pelvic CT (HU) → bones → joint ROIs → modified New York
grade per joint (3-D CNN) and the mNY criterion, erosion and ankylosis per slice (2-D CNNs)
with a k-slice patient rule, Grad-CAM++ maps.
"""
