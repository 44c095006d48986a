"""End-to-end study pipelines built from the package's parts.

``sacroai.pipelines.sij_mri``: semicoronal STIR → bones → quadrants → oedema →
SPARCC SIJ and ASAS, with a patient-level probability of active sacroiliitis.

``sacroai.pipelines.hip_xray``: AP pelvis radiograph → per-hip crops → multi-task
DenseNet (five OARSI feature heads) → Croft hip grade and a K-L grade.

``sacroai.pipelines.dlr``: deep-learning radiomics on multi-sequence MRI (one CNN
per sequence under patient-level CV, stacked, combined with clinical factors).

``sacroai.pipelines.sij_ct``: pelvic CT (HU) → bones → joint ROIs → modified New York
grade per joint (3-D CNN) and the mNY criterion, erosion and ankylosis per slice (2-D CNNs)
with a k-slice patient rule, Grad-CAM++ maps.

``sacroai.pipelines.sij_ct_seg``: pelvic CT (HU) → sacrum and left/right hip bone labels
(``CTBoneSegmenter``) → sacroiliac-joint ROIs (``joint_rois``).
"""
