"""Max Tanimoto to reference actives: RDKit path and matrix path give identical numbers on real molecules."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs, rdBase
from rdkit.DataStructs import ExplicitBitVect

from workers.screening.chem import similarity
from workers.screening.chem.similarity import Reference, ReferenceError, ReferenceSet, bit_matrix

DRUGS = [
    Reference("aspirin", "CC(=O)Oc1ccccc1C(=O)O"),
    Reference("caffeine", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"),
    Reference("ibuprofen", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"),
    Reference("diclofenac", "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl"),
    Reference("imatinib", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"),
    # The same active from a second source: its fingerprint ties with "aspirin" for every query.
    Reference("aspirin-again", "OC(=O)c1ccccc1OC(C)=O"),
    Reference("chlorpromazine", "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc21"),
]
N_QUERIES = 2000


def _brute_force(queries: list[ExplicitBitVect], refs: list[ExplicitBitVect]) -> tuple[np.ndarray, np.ndarray]:
    best = np.zeros(len(queries))
    nearest = np.zeros(len(queries), dtype=np.int64)
    for row, query in enumerate(queries):
        best[row] = -1.0
        for col, ref in enumerate(refs):
            value = DataStructs.TanimotoSimilarity(query, ref)
            if value > best[row]:  # strictly greater: the first of equal maxima stays
                best[row], nearest[row] = value, col
    return best, nearest


def _assert_paths_agree(refs: ReferenceSet, queries: list[ExplicitBitVect], **kwargs: int) -> np.ndarray:
    cpu_values, cpu_nearest = refs.max_similarity(queries, "cpu")
    matrix_values, matrix_nearest = refs.max_similarity(queries, "torch-cpu", **kwargs)
    assert cpu_values.dtype == matrix_values.dtype == np.float64
    assert cpu_nearest.dtype == matrix_nearest.dtype == np.int64
    np.testing.assert_array_equal(matrix_values, cpu_values)  # exact, not approximate
    np.testing.assert_array_equal(matrix_nearest, cpu_nearest)
    return cpu_values


@pytest.fixture(scope="module")
def drug_refs() -> ReferenceSet:
    return ReferenceSet(DRUGS)


@pytest.fixture(scope="module")
def nci_fps(drug_refs: ReferenceSet, nci_molecules: list[tuple[str, Chem.Mol]]) -> list[ExplicitBitVect]:
    assert len(nci_molecules) >= N_QUERIES
    return [drug_refs.fingerprint(mol) for _, mol in nci_molecules[:N_QUERIES]]


def test_nci_against_drugs_paths_identical_and_brute_force(
    drug_refs: ReferenceSet, nci_fps: list[ExplicitBitVect]
) -> None:
    values = _assert_paths_agree(drug_refs, nci_fps)
    best, nearest = _brute_force(nci_fps, drug_refs._fps)
    np.testing.assert_array_equal(values, best)
    np.testing.assert_array_equal(drug_refs.max_similarity(nci_fps)[1], nearest)
    assert np.unique(values).size > 100 and values.max() < 1  # a spread of real similarities


def test_nci_and_decoys_against_dud_actives_paths_identical(
    dud_cox2: tuple[list[tuple[str, str]], list[tuple[str, str]]], nci_molecules: list[tuple[str, Chem.Mol]]
) -> None:
    actives = [Reference(dud_id, smiles) for dud_id, smiles in dud_cox2[0]]
    # The list holds one SMILES RDKit rejects (a pentavalent carbocation); a reference set must name it.
    with pytest.raises(ReferenceError, match=r"reference 'DUD_cox2_A_5': SMILES .* does not parse"):
        ReferenceSet(actives)
    with rdBase.BlockLogs():
        refs = ReferenceSet([ref for ref in actives if Chem.MolFromSmiles(ref.smiles) is not None])
    assert len(refs.references) == len(actives) - 1 > 200
    queries = [refs.fingerprint(mol) for _, mol in nci_molecules[:N_QUERIES]]
    with rdBase.BlockLogs():
        decoys = [Chem.MolFromSmiles(smiles) for _, smiles in dud_cox2[1][:500]]
    queries += [refs.fingerprint(mol) for mol in decoys if mol is not None]
    values = _assert_paths_agree(refs, queries)
    best, nearest = _brute_force(queries[:300], refs._fps)
    np.testing.assert_array_equal(values[:300], best)
    np.testing.assert_array_equal(refs.max_similarity(queries[:300], "torch-cpu")[1], nearest)


def test_query_identical_to_a_reference_scores_one(drug_refs: ReferenceSet) -> None:
    queries = [drug_refs.fingerprint(Chem.MolFromSmiles(ref.smiles)) for ref in DRUGS]
    for device in ("cpu", "torch-cpu"):
        values, nearest = drug_refs.max_similarity(queries, device)
        assert values.tolist() == [1.0] * len(DRUGS)
        # Both aspirin entries score 1.0 for either spelling: the lower index wins.
        assert nearest.tolist() == [0, 1, 2, 3, 4, 0, 6]


def test_ties_go_to_the_lowest_index(drug_refs: ReferenceSet, nci_fps: list[ExplicitBitVect]) -> None:
    _assert_paths_agree(drug_refs, nci_fps)
    _, nearest = drug_refs.max_similarity(nci_fps, "torch-cpu")
    assert 5 not in nearest  # "aspirin-again" always ties with "aspirin" (index 0), so it never wins
    assert (nearest == 0).sum() > 0


def test_empty_fingerprints(drug_refs: ReferenceSet, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = ExplicitBitVect(drug_refs.n_bits)
    values, nearest = drug_refs.max_similarity([empty], "torch-cpu")
    assert (values.tolist(), nearest.tolist()) == ([0.0], [0])
    _assert_paths_agree(drug_refs, [empty])

    # No parsed molecule has an empty Morgan fingerprint, so an empty reference needs a stubbed generator.
    real = ReferenceSet.fingerprint
    monkeypatch.setattr(
        ReferenceSet, "fingerprint", lambda self, mol: empty if mol.GetNumAtoms() == 1 else real(self, mol)
    )
    with_empty = ReferenceSet([Reference("methane", "C"), Reference("aspirin", DRUGS[0].smiles)])
    rdkit_value = DataStructs.BulkTanimotoSimilarity(empty, [ExplicitBitVect(drug_refs.n_bits)])[0]
    values, nearest = with_empty.max_similarity([empty], "torch-cpu")
    assert (values.tolist(), nearest.tolist()) == ([rdkit_value], [0])
    _assert_paths_agree(with_empty, [empty])


def test_chunking_gives_the_same_numbers(
    drug_refs: ReferenceSet, nci_fps: list[ExplicitBitVect], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = drug_refs.max_similarity(nci_fps, "torch-cpu")
    # 2,000 = 31 x 64 + 16: a short last chunk too.
    chunked = drug_refs.max_similarity(nci_fps, "torch-cpu", chunk_size=64)
    np.testing.assert_array_equal(chunked[0], whole[0])
    np.testing.assert_array_equal(chunked[1], whole[1])
    # Large reference sets shrink the chunk further so one chunk's pairs stay bounded.
    monkeypatch.setattr(similarity, "_MAX_PAIRS_PER_CHUNK", 50)
    capped = drug_refs.max_similarity(nci_fps[:100], "torch-cpu")
    np.testing.assert_array_equal(capped[0], whole[0][:100])
    np.testing.assert_array_equal(capped[1], whole[1][:100])


@pytest.mark.parametrize(("radius", "n_bits"), [(3, 1024), (2, 4096), (1, 1001)])
def test_other_fingerprint_sizes(radius: int, n_bits: int, nci_molecules: list[tuple[str, Chem.Mol]]) -> None:
    refs = ReferenceSet(DRUGS, radius=radius, n_bits=n_bits)
    queries = [refs.fingerprint(mol) for _, mol in nci_molecules[:300]]
    assert all(fp.GetNumBits() == n_bits for fp in queries)
    _assert_paths_agree(refs, queries, chunk_size=128)


def test_fp16_intersections_stay_exact_above_2048_bits(nci_molecules: list[tuple[str, Chem.Mol]]) -> None:
    torch = pytest.importorskip("torch")
    refs = ReferenceSet(DRUGS, n_bits=4096)
    queries = [refs.fingerprint(mol) for _, mol in nci_molecules[:64]]
    query_bits = torch.from_numpy(bit_matrix(queries))
    ref_bits = torch.from_numpy(bit_matrix(refs._fps))
    expected = query_bits.to(torch.int64) @ ref_bits.to(torch.int64).T
    # The CUDA path's fp16 slicing, run on the CPU (its fp16 matrix product is slow but exists).
    got = similarity._intersections(query_bits.to(torch.float16), ref_bits.to(torch.float16))
    assert got.dtype == torch.int32
    assert torch.equal(got.to(torch.int64), expected)


def test_bit_matrix_matches_rdkit(nci_fps: list[ExplicitBitVect]) -> None:
    matrix = bit_matrix(nci_fps[:200])
    assert matrix.shape == (200, 2048) and matrix.dtype == np.uint8
    for row, fp in enumerate(nci_fps[:200]):
        expected = np.zeros(fp.GetNumBits(), dtype=np.uint8)
        DataStructs.ConvertToNumpyArray(fp, expected)
        np.testing.assert_array_equal(matrix[row], expected)
    assert bit_matrix([]).shape == (0, 0)


def test_bad_inputs(drug_refs: ReferenceSet) -> None:
    with pytest.raises(ReferenceError, match=r"reference 'broken': SMILES 'c1ccc' does not parse"):
        ReferenceSet([DRUGS[0], Reference("broken", "c1ccc")])
    with pytest.raises(ReferenceError, match="no reference molecules"):
        ReferenceSet([])
    with pytest.raises(ValueError, match="unknown similarity device 'gpu'"):
        drug_refs.max_similarity([], "gpu")
    wrong_size = ExplicitBitVect(1024)
    for device in ("cpu", "torch-cpu"):
        with pytest.raises(ValueError, match="fingerprint has 1024 bits, the reference set uses 2048"):
            drug_refs.max_similarity([wrong_size], device)
        values, nearest = drug_refs.max_similarity([], device)
        assert values.shape == nearest.shape == (0,)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU")
def test_cuda_path_identical(drug_refs: ReferenceSet, nci_fps: list[ExplicitBitVect]) -> None:
    cpu_values, cpu_nearest = drug_refs.max_similarity(nci_fps, "cpu")
    cuda_values, cuda_nearest = drug_refs.max_similarity(nci_fps, "cuda", chunk_size=512)
    np.testing.assert_array_equal(cuda_values, cpu_values)
    np.testing.assert_array_equal(cuda_nearest, cpu_nearest)
