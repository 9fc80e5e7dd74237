import json
import os

import numpy as np

from conftest import REPO
from twinlens_train.noise import Mulberry32, gaussian, gaussian_float64

# Values produced by a plain JavaScript implementation (Math.imul, >>> 0, Math.log/cos/sin) in Node 20.
SEED0_UINT32 = [1144304738, 1416247, 958946056, 627933444]
SEED0_GAUSS = [1.6264323079191505, 0.00336973522237399, 1.0509958430290807, 1.3762763278932915]
SEED42_GAUSS = [-0.9561622294378207, 0.3220702485608626, -0.27302610440398517, -0.4946727576648158]


def test_mulberry32_uint32():
    r = Mulberry32(0)
    assert [r.next_uint32() for _ in range(4)] == SEED0_UINT32


def test_gaussian_known_values():
    np.testing.assert_allclose(gaussian_float64(4, 0), SEED0_GAUSS, rtol=0, atol=1e-15)
    np.testing.assert_allclose(gaussian_float64(4, 42), SEED42_GAUSS, rtol=0, atol=1e-15)


def test_golden_file_matches():
    path = os.path.join(REPO, "test/fixtures/noise-golden.json")
    g = json.load(open(path))
    assert g["seed0"] == [float(v) for v in gaussian_float64(8, 0)]
    assert g["seed42"] == [float(v) for v in gaussian_float64(8, 42)]


def test_shape_dtype_odd_and_draws():
    x = gaussian((1, 3, 5), 7)
    assert x.shape == (1, 3, 5) and x.dtype == np.float32
    # odd count: same prefix as the even stream
    np.testing.assert_array_equal(gaussian((15,), 7), gaussian_float64(16, 7)[:15].astype(np.float32))
    # draw k uses seed + k (mod 2**32)
    np.testing.assert_array_equal(gaussian((8,), 5, draw=2), gaussian((8,), 7))
    np.testing.assert_array_equal(gaussian((8,), 2**32 - 1, draw=1), gaussian((8,), 0))
