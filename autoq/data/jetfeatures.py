"""The 16 high-level features of the hls4ml jet dataset, computed from jet constituents with FastJet (vectorised).

Definitions followed (the column names are those of OpenML 42468 ``hls4ml_lhc_jets_hlf``; Coleman et al. 2018,
JINST 13 T01003, arXiv:1709.08705, and Duarte et al. 2018, JINST 13 P07027, list them):

* ``mass_mmdt``: mass of the jet groomed by the modified mass-drop tagger (mMDT; Dasgupta, Fregoso, Marzani,
  Salam, JHEP 09 (2013) 029), i.e. soft drop with beta = 0, z_cut = 0.1, R0 = 0.8 (Larkoski, Marzani, Soyez, Thaler,
  JHEP 05 (2014) 146), after Cambridge/Aachen reclustering of the anti-kT jet (fastjet-contrib ``SoftDrop``).
* ``multiplicity``: number of constituents of the (ungroomed) anti-kT R=0.8 jet.
* ``zlogz``: sum over the (ungroomed) constituents of z_i ln z_i, z_i = pT_i / sum_j pT_j.
* Energy correlation functions on the mMDT-groomed constituents, normalised (pT_R measure: z_i = pT_i / pT_jet,
  theta_ij = Delta R_ij in rapidity-azimuth), the generalised ECFs of Moult, Necib, Thaler, JHEP 12 (2016) 153
  (arXiv:1609.07483), computed by fastjet-contrib ``EnergyCorrelatorGeneralized(v, n, beta)``:
  ``v e_n^(beta) = sum_{i1<..<in} z_i1..z_in * prod_{m=1..v} min^(m) {theta_ij^beta}`` (the product of the v
  smallest pairwise angles); with v = n(n-1)/2 (all angles) these are the e_n^(beta) of Larkoski, Salam, Thaler,
  JHEP 06 (2013) 108 (arXiv:1305.0007). Write e2 = 1e2 and e3 = 3e3. Then, as fastjet-contrib ``EnergyCorrelator``
  (C1, C2, D2, GeneralizedD2, M2, N2) defines them:

  - ``c1_b{0,1,2}_mmdt``: C1^(beta) = e2^(beta)  (beta = 0 gives sum_{i<j} z_i z_j)
  - ``c2_b{1,2}_mmdt``:   C2^(beta) = e3^(beta) / (e2^(beta))^2                       (LST 2013)
  - ``d2_b{1,2}_mmdt``:   D2^(beta) = e3^(beta) / (e2^(beta))^3                       (Larkoski, Moult, Neill,
    JHEP 12 (2014) 009, arXiv:1409.6298)
  - ``d2_a1_b{1,2}_mmdt``: D2^(alpha=1,beta) = e3^(1) / (e2^(beta))^(3/beta)          (same paper; note that
    D2^(1,1) equals D2^(1) by definition, as in the OpenML set)
  - ``m2_b{1,2}_mmdt``:   M2^(beta) = 1e3^(beta) / 1e2^(beta)                         (Moult, Necib, Thaler 2016)
  - ``n2_b{1,2}_mmdt``:   N2^(beta) = 2e3^(beta) / (1e2^(beta))^2                     (Moult, Necib, Thaler 2016)

  A ratio whose denominator vanishes (a groomed jet of one constituent) is set to 0.
"""
from __future__ import annotations

import numpy as np

from .jets import JET_FEATURES

#: mMDT / soft drop settings (the dataset's "_mmdt" suffix)
SOFTDROP = dict(beta=0.0, symmetry_cut=0.1, R0=0.8)
#: Cambridge/Aachen radius for reclustering one jet's constituents into exactly one jet (pairwise Delta R < 1.6 for
#: the constituents of an R = 0.8 jet, so nothing is ever merged with the beam)
_RECLUSTER_R = 10.0


def _ca_sequence(particles):
    """A Cambridge/Aachen cluster sequence with each entry of ``particles`` (jets x constituents) as an event."""
    import fastjet
    return fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R))


def _ratio(num, den):
    """num / den, 0 where den is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def generalized_ecfs(groomed) -> dict[tuple[int, int, float], np.ndarray]:
    """Normalised generalised ECFs ``{(v, n, beta): v e_n^(beta) per jet}`` for the ratios (fastjet-contrib)."""
    cs = _ca_sequence(groomed)
    wanted = [(1, 2, 0.0), (1, 2, 1.0), (1, 2, 2.0)]
    wanted += [(v, 3, b) for b in (1.0, 2.0) for v in (1, 2, 3)]
    return {(v, n, b): np.asarray(cs.exclusive_jets_energy_correlator(njets=1, func="generalized", npoint=n,
                                                                      angles=v, beta=b, normalized=True),
                                  dtype=np.float64)
            for v, n, b in wanted}


def ecf_ratios(ecf: dict) -> dict[str, np.ndarray]:
    """The 13 ECF ratio columns from generalised ECFs (keys ``(v, n, beta)``; see the module docstring)."""
    e2 = {b: ecf[(1, 2, b)] for b in (0.0, 1.0, 2.0)}
    e3 = {b: ecf[(3, 3, b)] for b in (1.0, 2.0)}
    out = {f"c1_b{int(b)}_mmdt": e2[b] for b in (0.0, 1.0, 2.0)}
    for b in (1.0, 2.0):
        k = int(b)
        out[f"c2_b{k}_mmdt"] = _ratio(e3[b], e2[b] ** 2)
        out[f"d2_b{k}_mmdt"] = _ratio(e3[b], e2[b] ** 3)
        out[f"d2_a1_b{k}_mmdt"] = _ratio(e3[1.0], e2[b] ** (3.0 / b))
        out[f"m2_b{k}_mmdt"] = _ratio(ecf[(1, 3, b)], e2[b])
        out[f"n2_b{k}_mmdt"] = _ratio(ecf[(2, 3, b)], e2[b] ** 2)
    return out


def jet_features(constituents) -> np.ndarray:
    """The 16 features (float64 [n_jets, 16], :data:`autoq.data.jets.JET_FEATURES` order) of jets given as an awkward
    array ``jets x constituents x {px, py, pz, E}`` (each entry the constituents of one anti-kT R=0.8 jet)."""
    import awkward as ak
    pt = np.hypot(constituents.px, constituents.py)
    z = pt / ak.sum(pt, axis=1)
    cols = {"zlogz": ak.to_numpy(ak.sum(z * np.log(z), axis=1)),
            "multiplicity": ak.to_numpy(ak.num(constituents, axis=1))}
    sd = _ca_sequence(constituents).exclusive_jets_softdrop_grooming(njets=1, **SOFTDROP)
    cols["mass_mmdt"] = np.nan_to_num(ak.to_numpy(sd.msoftdrop), nan=0.0)
    groomed = ak.zip({k: sd.constituents[k] for k in ("px", "py", "pz", "E")})
    cols.update(ecf_ratios(generalized_ecfs(groomed)))
    return np.stack([np.asarray(cols[f], dtype=np.float64) for f in JET_FEATURES], axis=1)
