"""compare_packs: two packs are identical only when every weight and every recorded answer is."""
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from twinlens_train.mini_world import compare_packs


def _pack(folder, weight, answer, cache=False):
    (folder / "projectors").mkdir(parents=True)
    (folder / "pack.json").write_text("{}")
    w = numpy_helper.from_array(np.asarray(weight, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w],
    )
    onnx.save(helper.make_model(graph), str(folder / "projectors" / "clip.onnx"))
    if cache:  # an engine cache beside the graph is not part of the pack
        (folder / "projectors" / "clip.twinlens-0123.onnx").write_bytes(b"not a graph")
    items = [{"id": "test-0000", "answers": {"clip": {"text": answer}, "fused": {"text": "red"}}}]
    (folder / "eval.json").write_text(json.dumps({"items": items}))
    (folder / "eval-python.json").write_text(json.dumps({"modes": {"clip": {"test_accuracy": {"all": 0.5}}}}))
    return folder


def test_equal_packs_are_identical_and_caches_are_ignored(tmp_path, capsys):
    a = _pack(tmp_path / "a", [[1, 0], [0, 1]], "red")
    b = _pack(tmp_path / "b", [[1, 0], [0, 1]], "red", cache=True)
    checked, problems = compare_packs.compare_packs(a, b)
    assert problems == []
    assert checked == ["projectors/clip.onnx", "eval.json", "eval-python.json"]
    assert compare_packs.main([str(a), str(b)]) == 0
    assert "identical" in capsys.readouterr().out


def test_a_changed_weight_or_answer_is_reported(tmp_path):
    a = _pack(tmp_path / "a", [[1, 0], [0, 1]], "red")
    b = _pack(tmp_path / "b", [[1, 0], [0, 1.5]], "blue")
    _, problems = compare_packs.compare_packs(a, b)
    assert any("projectors/clip.onnx: weight w: max |difference| 0.5" in p for p in problems)
    assert any("eval.json: 1 of 2 answers differ, first: default / test-0000 / clip 'red' vs 'blue'" in p
               for p in problems)
    assert compare_packs.main([str(a), str(b)]) == 1


def test_a_folder_without_pack_json_is_refused(tmp_path, capsys):
    a = _pack(tmp_path / "a", [[1]], "red")
    assert compare_packs.main([str(a), str(tmp_path)]) == 2
    assert "no pack.json" in capsys.readouterr().err


def test_either_a_second_pack_or_a_work_folder(tmp_path, capsys):
    a = _pack(tmp_path / "a", [[1]], "red")
    assert compare_packs.main([str(a)]) == 2
    assert "either a second pack folder or --work" in capsys.readouterr().err
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "llm0.pt").write_bytes(b"")
    assert compare_packs.main([str(a), "--work", str(tmp_path / "work")]) == 2
    assert "has no clip.pt, vae.pt, unet.pt: run stages data" in capsys.readouterr().err
