"""Section-0 call contract of sacroai.scores.evaluate."""
import pytest

import sacroai.scores as S
from sacroai.scores import evaluate


def test_system_names_match_spec():
    assert set(S.SYSTEMS) == {"sparcc_sij", "sparcc_spine", "sparcc_sss", "msasss", "mny", "asas_mri_sij",
                              "asas_axspa", "kl", "oarsi_hip", "svdh", "us_synovitis", "asdas_crp", "asdas_esr",
                              "asdas_change", "basdai", "das28", "seg_metrics"}


@pytest.mark.parametrize("system", sorted(S.SYSTEMS))
@pytest.mark.parametrize("data", ["text", 3, None, [1, 2]])
def test_non_object_input_is_malformed(system, data):
    assert evaluate(system, data) == {"status": "error", "reason": "malformed_input"}


@pytest.mark.parametrize("system", sorted(S.SYSTEMS))
def test_unknown_top_level_key(system):
    assert evaluate(system, {"definitely_not_a_field": 1}) == {"status": "error", "reason": "unknown_field"}


def test_unknown_system_raises():
    with pytest.raises(ValueError, match="system"):
        evaluate("sparc_sij", {})
    with pytest.raises(TypeError, match="system"):
        evaluate(3, {})


def test_typed_helpers_are_evaluate():
    assert S.kl(grade=3) == evaluate("kl", {"grade": 3})
    assert S.basdai(q1=4, q2=4, q3=4, q4=4, q5=4, q6=4)["score"] == pytest.approx(4.0)
    assert "Maksymowych" in S.sparcc_sij.__doc__ and "Garrett" in S.basdai.__doc__


def test_numpy_scalars_accepted():
    np = pytest.importorskip("numpy")
    assert evaluate("kl", {"grade": np.int64(2)})["radiographic_oa"] is True
    assert evaluate("kl", {"grade": np.float32(2.0)})["radiographic_oa"] is True
    assert evaluate("kl", {"grade": np.bool_(True)}) == {"status": "error", "reason": "malformed_input"}
