"""mslearn.datasets.sharing (a dataset as a Frictionless Data Package) and model cards (mslearn.deployment).

A shared dataset must read back to the same arrays, tables and metadata (bit for bit), carry what is
needed to reproduce a sample (its parameters and seed regenerate its target exactly), and refuse a
corrupted file, a missing file and a card without a required field. The card is checked against the
Data Package v2 rules this module relies on (required properties, relative paths, names, hashes,
Table Schema types) and, where the ``frictionless`` library is installed, by its validator.
"""
import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from mslearn import deployment
from mslearn.datasets import Dataset, generate
from mslearn.datasets.sharing import REQUIRED_FIELDS, export_dataset, load_shared, validate_shared

SPACE = {"volume_fraction": (0.1, 0.6), "contrast": (1.0, 100.0, "log")}


def sampler(parameters, seeds):
    """Cheap and deterministic: a target, an image and a ragged entry that depend on (parameters, seed)."""
    out, images, ragged = [], [], []
    for (_, row), seed in zip(parameters.iterrows(), seeds):
        rng = np.random.default_rng(seed)
        out.append(1 + row["volume_fraction"] * (row["contrast"] - 1) / 3 + 0.01 * rng.random())
        images.append((rng.random((6, 5)) < row["volume_fraction"]).astype(np.uint8))
        ragged.append(rng.random((1 + int(rng.integers(0, 4)), 2)))
    return {"k_xx": np.array(out), "labels": np.stack(images),
            "descriptors": {"measured_fraction": np.stack(images).mean(axis=(1, 2))},
            "ragged": {"centres": ragged}}


sampler.name = "tests.sharing_sampler"
METADATA = {"title": "Toy composites", "description": "A toy data set for the sharing tests.",
            "solver": {"method": "toy", "tol": 1e-4}, "phases": {"0": "matrix", "1": "inclusions"}}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharing")
    dataset = generate(root / "store.h5", sampler, SPACE, 12, seed=7, batch_size=5, progress=False,
                       metadata=METADATA)
    card = export_dataset(dataset, root / "shared", licence="CC-BY-4.0",
                          creators=["Ada Author", {"title": "Bo Builder", "organization": "Lab"}],
                          units={"k_xx": "W/(m K)"}, field_descriptions={"labels": "phase labels"},
                          keywords=["toy"])
    return dataset, card


def copy(shared_card, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(shared_card.parent, folder)
    return folder


def test_round_trip_is_exact(shared):
    dataset, card = shared
    back = load_shared(card.parent)
    pd.testing.assert_frame_equal(back.parameters, dataset.parameters)
    pd.testing.assert_frame_equal(back.targets, dataset.targets)
    assert back.arrays.keys() == dataset.arrays.keys()
    for name, array in dataset.arrays.items():
        np.testing.assert_array_equal(back.arrays[name], array)
        assert back.arrays[name].dtype == array.dtype
    for i in range(len(dataset)):
        np.testing.assert_array_equal(back.ragged("centres", i), dataset.ragged("centres", i))
    np.testing.assert_array_equal(dataset.ragged("centres", -1), dataset.ragged("centres", len(dataset) - 1))
    with pytest.raises(ValueError, match=r"index = 12; expected a sample number in \[-12, 12\)"):
        dataset.ragged("centres", len(dataset))          # -1 was an empty array, 12 a bare IndexError
    np.testing.assert_array_equal(back.metadata["seeds"], dataset.metadata["seeds"])
    for key in ("seed", "method", "sampler", "parameter_space", "versions", "solver", "phases", "title",
                "created", "config"):
        assert back.metadata[key] == dataset.metadata[key], key
    assert back.metadata["licenses"][0]["name"] == "CC-BY-4.0"
    assert [c["title"] for c in back.metadata["contributors"]] == ["Ada Author", "Bo Builder"]
    assert back.split(seed=1)["test"].tolist() == dataset.split(seed=1)["test"].tolist()


def test_a_sample_is_reproduced_from_its_shared_parameters_and_seed(shared):
    _, card = shared
    back = load_shared(card.parent)
    i = 5
    again = sampler(back.parameters.loc[[i], list(SPACE)], back.metadata["seeds"][[i]])
    assert again["k_xx"][0] == back.targets["k_xx"][i]
    np.testing.assert_array_equal(again["labels"][0], back.arrays["labels"][i])


def test_files_are_chunked_compressed_and_hashed(shared):
    _, card = shared
    folder = card.parent
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "arrays.h5", "datapackage.json",
                                                        "parameters.csv", "targets.csv"]
    with h5py.File(folder / "arrays.h5", "r") as file:
        labels = file["arrays/labels"]
        assert labels.chunks == (1, 6, 5) and labels.compression == "gzip" and labels.fletcher32
    readme = (folder / "README.md").read_text()
    for text in ("Toy composites", "CC-BY-4.0", "Ada Author", "seed 7", "load_shared"):
        assert text in readme


def test_the_card_follows_the_data_package_spec(shared):
    _, card_path = shared
    card = json.loads(card_path.read_text())
    assert card["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert all(card.get(key) for key in REQUIRED_FIELDS["package"])
    assert card["name"] == "toy-composites" and set(card["name"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    assert card["licenses"][0]["path"].startswith("https://creativecommons.org/licenses/by/4.0")
    assert card["contributors"][1] == {"roles": ["creator"], "title": "Bo Builder", "organization": "Lab"}
    names = {r["name"]: r for r in card["resources"]}
    assert list(names) == ["parameters", "targets", "arrays", "card"]
    for resource in card["resources"]:
        assert resource["hash"].startswith("sha256:") and len(resource["hash"]) == 7 + 64
        assert not resource["path"].startswith("/") and ".." not in resource["path"]
        assert resource["bytes"] == (card_path.parent / resource["path"]).stat().st_size
    fields = {f["name"]: f for f in names["parameters"]["schema"]["fields"]}
    assert fields["volume_fraction"]["constraints"] == {"minimum": 0.1, "maximum": 0.6}
    assert fields["contrast"]["scale"] == "log-uniform" and fields["measured_fraction"]["role"] == "descriptor"
    assert fields["seed"]["type"] == "integer" and fields["sample"]["type"] == "integer"
    target = names["targets"]["schema"]["fields"][1]
    assert target == {"name": "k_xx", "type": "number", "role": "target", "unit": "W/(m K)", "dtype": "<f8"}
    arrays = {a["name"]: a for a in names["arrays"]["arrays"]}
    assert arrays["labels"]["shape"] == [12, 6, 5] and arrays["labels"]["description"] == "phase labels"
    assert arrays["centres"]["ragged"]
    provenance = card["mslearn"]
    assert provenance["seed"] == 7 and provenance["metadata"]["solver"] == {"method": "toy", "tol": 1e-4}
    assert provenance["versions"]["mslearn"] and provenance["exported_with"]["h5py"] and provenance["exported"]
    assert validate_shared(card_path.parent) == card


def test_the_frictionless_validator_accepts_the_card(shared):
    frictionless = pytest.importorskip("frictionless")
    report = frictionless.validate(str(shared[1]))
    assert report.valid, report.flatten(["type", "note"])


@pytest.mark.parametrize("name", ["arrays.h5", "targets.csv", "README.md"])
def test_a_corrupted_file_is_refused(shared, tmp_path, name):
    folder = copy(shared[1], tmp_path)
    content = bytearray((folder / name).read_bytes())
    content[len(content) // 2] ^= 0x01
    (folder / name).write_bytes(bytes(content))
    with pytest.raises(ValueError, match="SHA-256.*corrupted"):
        load_shared(folder)


def test_a_missing_file_is_refused(shared, tmp_path):
    folder = copy(shared[1], tmp_path)
    (folder / "parameters.csv").unlink()
    with pytest.raises(ValueError, match="parameters.csv .*missing"):
        load_shared(folder)
    with pytest.raises(ValueError, match="no dataset card"):
        load_shared(tmp_path / "nowhere")


@pytest.mark.parametrize("remove", [("licenses",), ("contributors",), ("mslearn", "seed_missing_ok"),
                                    ("mslearn", "config"), ("resources", 2, "hash"), ("contributors", 0, "title")])
def test_a_card_without_a_required_field_is_refused(shared, tmp_path, remove):
    folder = copy(shared[1], tmp_path)
    card = json.loads((folder / "datapackage.json").read_text())
    entry = card
    for key in remove[:-1]:
        entry = entry[key]
    if remove[-1] == "seed_missing_ok":          # not required: the seed is also in the configuration
        del entry["seed"]
        (folder / "datapackage.json").write_text(json.dumps(card))
        load_shared(folder)
        return
    del entry[remove[-1]]
    (folder / "datapackage.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=f"required field.*{remove[-1]}"):
        load_shared(folder)


def test_other_bad_cards_are_refused(shared, tmp_path):
    folder = copy(shared[1], tmp_path)
    card = json.loads((folder / "datapackage.json").read_text())
    (folder / "datapackage.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_shared(folder)
    bad = json.loads(json.dumps(card))
    bad["resources"][0]["path"] = "../outside.csv"
    (folder / "datapackage.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="relative path inside"):
        load_shared(folder)
    bad = json.loads(json.dumps(card))
    bad["resources"][1]["hash"] = "md5:0123"
    (folder / "datapackage.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="sha256"):
        load_shared(folder)
    bad = json.loads(json.dumps(card))
    bad["licenses"] = [{"title": "no name nor path"}]
    (folder / "datapackage.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="'name' or a 'path'"):
        load_shared(folder)


def test_export_rejects_bad_arguments(shared, tmp_path):
    dataset, card = shared
    with pytest.raises(ValueError, match="not empty"):
        export_dataset(dataset, card.parent, licence="CC0-1.0", creators=["A"])
    with pytest.raises(ValueError, match="licence"):
        export_dataset(dataset, tmp_path / "a", licence="", creators=["A"])
    with pytest.raises(ValueError, match="creators"):
        export_dataset(dataset, tmp_path / "b", licence="CC0-1.0", creators=[])
    with pytest.raises(ValueError, match="not in the dataset"):
        export_dataset(dataset, tmp_path / "c", licence="CC0-1.0", creators=["A"], units={"k_yy": "W/(m K)"})
    with pytest.raises(ValueError, match="Dataset"):
        export_dataset({"k": [1]}, tmp_path / "d", licence="CC0-1.0", creators=["A"])
    with pytest.raises(TypeError, match="overwrite = 'no'; expected True or False"):
        export_dataset(dataset, card.parent, licence="CC0-1.0", creators=["A"], overwrite="no")   # overwrote
    clash = Dataset(pd.DataFrame({"phi": [0.1, 0.2], "seed": [3, 4]}), pd.DataFrame({"k": [1.1, 1.3]}), {}, {}, {})
    with pytest.raises(ValueError, match="a column named 'seed', a name the package reserves"):
        export_dataset(clash, tmp_path / "e", licence="CC0-1.0", creators=["A"])   # was replaced, unreadable
    again = export_dataset(dataset, card.parent.parent / "again", licence={"name": "MIT"}, creators="A")
    export_dataset(dataset, again.parent, licence="CC0-1.0", creators="A", overwrite=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("the user's own notes")
    with pytest.raises(ValueError, match=r"holds files \(README.md\) but no earlier export"):
        export_dataset(dataset, project, licence="CC0-1.0", creators="A", overwrite=True)
    assert (project / "README.md").read_text() == "the user's own notes"
    assert load_shared(again).metadata["licenses"] == [{"name": "CC0-1.0",
                                                        "path": "https://creativecommons.org/publicdomain/zero/1.0/"}]


def test_the_versions_of_earlier_samples_are_exported(shared, tmp_path):
    """A store resumed under other package versions keeps theirs (former_versions); the export recorded only the
    latest, so the shared data set lost them. They are in the card and come back with load_shared."""
    dataset = shared[0]
    dataset.metadata["former_versions"] = [{"mslearn": "0.0.1", "numpy": "1.26.0"}]
    try:
        card = export_dataset(dataset, tmp_path / "resumed", licence="CC-BY-4.0", creators=["Ada Author"])
    finally:
        dataset.metadata["former_versions"] = []
    assert json.loads(card.read_text())["mslearn"]["former_versions"] == [{"mslearn": "0.0.1", "numpy": "1.26.0"}]
    assert load_shared(card.parent).metadata["former_versions"] == [{"mslearn": "0.0.1", "numpy": "1.26.0"}]
    assert load_shared(shared[1].parent).metadata["former_versions"] == []


def test_a_dataset_made_by_hand_round_trips(tmp_path):
    dataset = Dataset(pd.DataFrame({"phi": [0.1, 0.2, 0.3]}), pd.DataFrame({"k": [1.1, 1.3, 1.6]}),
                      {"field": np.arange(12.0).reshape(3, 2, 2)}, {}, {"description": "by hand"})
    back = load_shared(export_dataset(dataset, tmp_path / "hand", licence="CC0-1.0", creators="A"))
    pd.testing.assert_frame_equal(back.parameters, dataset.parameters)
    pd.testing.assert_frame_equal(back.targets, dataset.targets)
    np.testing.assert_array_equal(back.arrays["field"], dataset.arrays["field"])
    assert back.metadata["package"]["name"] == "hand" and back.metadata["versions"]["mslearn"]


def test_table_columns_keep_their_dtype_and_older_exports_read_as_before(tmp_path):
    """A float32 column came back as float64 of another value (0.3 written for float32(0.3), read as the
    float64 0.3) and an int16 one as int64: the card had only the Table Schema type. It now records each
    field's dtype and load_shared reads it back; an export without it (made before) reads as before."""
    dataset = Dataset(pd.DataFrame({"phi": np.array([0.1, 0.2, 0.3], np.float32)}),
                      pd.DataFrame({"k": np.array([0.3, 1 / 3, 1e-7], np.float32), "n": np.array([1, -2, 3], np.int16),
                                    "on": [True, False, True]}), {}, {}, {})
    card = export_dataset(dataset, tmp_path / "typed", licence="CC0-1.0", creators="A")
    back = load_shared(card)
    pd.testing.assert_frame_equal(back.parameters, dataset.parameters)        # dtypes and values, bit for bit
    pd.testing.assert_frame_equal(back.targets, dataset.targets)
    package = json.loads(card.read_text())
    for resource in package["resources"][:2]:
        for field in resource["schema"]["fields"]:
            field.pop("dtype", None)                                  # the sample and seed have none
    card.write_text(json.dumps(package))
    old = load_shared(card)
    assert old.targets.dtypes.astype(str).tolist() == ["float64", "int64", "bool"]
    assert old.targets["k"].tolist() == [0.3, 0.33333334, 1e-7] and old.parameters["phi"].dtype == np.float64
    package["resources"][1]["schema"]["fields"][1]["dtype"] = "<U3"
    card.write_text(json.dumps(package))
    with pytest.raises(ValueError, match="the card gives the field 'k' of targets.csv the type 'number' and the "
                                         "dtype '<U3'; expected a numpy dtype of that type"):
        load_shared(card)


# ----------------------------------------------------------------------------- model cards
def test_model_card_is_saved_beside_the_model(tmp_path):
    X = pd.DataFrame({"volume_fraction": [0.1, 0.3, 0.5, 0.6], "log10_contrast": [0.0, 1.0, 1.5, 2.0]})
    y = X["volume_fraction"] * 3 + X["log10_contrast"]
    model = LinearRegression().fit(X, y)
    card = deployment.model_card(model, training_data=X, metrics={"test_r2": 0.99, "test_rmse": {"value": 0.02,
                                                                                                  "n_samples": 40}},
                                 intended_use="Effective conductivity of 2D particle composites.",
                                 limitations="Two phases only.", target_names=["k_xx"], units={"k_xx": "W/(m K)"},
                                 data_source={"name": "toy-composites", "hash": "sha256:00"}, authors=["A"],
                                 licence="MIT")
    features = card["training_data"]["features"]
    assert features["volume_fraction"] == {"min": 0.1, "max": 0.6, "mean": 0.375,
                                           "std": pytest.approx(np.std([0.1, 0.3, 0.5, 0.6]))}
    assert card["model"]["class"] == "sklearn.linear_model._base.LinearRegression"
    assert card["model"]["hyper_parameters"]["fit_intercept"] is True
    assert card["limitations"][0] == "Two phases only." and "extrapolation" in card["limitations"][1]
    assert card["versions"]["mslearn"] and card["created"]
    path = deployment.save(model, tmp_path / "model", card=card)
    assert deployment.read_model_card(path) == card
    markdown = (tmp_path / "model.card.md").read_text()
    for text in ("Intended use", "| volume_fraction |  | 0.1 | 0.6 |", "test_r2", "Two phases only."):
        assert text in markdown
    np.testing.assert_array_equal(deployment.outside_training_range(card, [[0.2, 1.0], [0.7, 1.0], [0.2, -1]]),
                                  [False, True, True])
    images = deployment.model_card(model, training_data=np.zeros((3, 4, 4)), metrics={"r2": 1.0},
                                   intended_use="images")
    assert images["training_data"] == {"n_samples": 3, "sample_shape": [4, 4], "min": 0.0, "max": 0.0}


def test_model_card_rejects_bad_input(tmp_path):
    X = np.array([[0.0], [1.0]])
    model = LinearRegression().fit(X, [0.0, 1.0])
    kwargs = {"training_data": X, "metrics": {"r2": 0.9}, "intended_use": "toy"}
    for change, message in [({"intended_use": ""}, "intended_use"), ({"metrics": {}}, "metrics"),
                            ({"metrics": {"r2": float("nan")}}, "finite number"),
                            ({"training_data": np.array([[np.nan]])}, "NaN"),
                            ({"feature_names": ["a", "b"]}, "feature_names"),
                            ({"limitations": [1]}, "limitations")]:
        with pytest.raises(ValueError, match=message):
            deployment.model_card(model, **{**kwargs, **change})
    with pytest.raises(TypeError, match="units is a int; expected a dict"):
        deployment.model_card(model, **kwargs, units=5)                  # was an AttributeError
    with pytest.raises(TypeError, match="target_names = 'k'; expected a list of names"):
        deployment.model_card(model, **kwargs, target_names="k")         # a string was split into its letters
    card = deployment.model_card(model, **kwargs)
    with pytest.raises(ValueError, match="shape"):
        deployment.outside_training_range(card, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="lacks"):
        deployment.save(model, tmp_path / "m", card={"model": {}})
    deployment.save(model, tmp_path / "plain")
    with pytest.raises(FileNotFoundError, match="no model card"):
        deployment.read_model_card(tmp_path / "plain")


def test_an_export_that_fails_part_way_leaves_the_earlier_one_whole(tmp_path):
    """export_dataset wrote its files in turn into the folder: an overwrite that failed at the arrays (a column
    that cannot be shared) or at the card (metadata that is not JSON) left the new tables under the earlier
    export's card, whose hashes no longer matched. It now writes beside the folder and moves the files in at the
    end."""
    good = Dataset(pd.DataFrame({"phi": [0.1, 0.2]}), pd.DataFrame({"k": [1.1, 1.3]}),
                   {"field": np.zeros((2, 2, 2))}, {}, {"description": "the first"})
    card = export_dataset(good, tmp_path / "shared", licence="CC0-1.0", creators="A")
    before = {p.name: p.read_bytes() for p in card.parent.iterdir()}
    text_array = Dataset(pd.DataFrame({"phi": [0.5, 0.6]}), pd.DataFrame({"k": [2.0, 2.1]}),
                         {"name": np.array(["a", "b"])}, {}, {})
    with pytest.raises(ValueError, match="cannot be shared; expected numbers"):
        export_dataset(text_array, card.parent, licence="CC0-1.0", creators="A", overwrite=True)
    assert {p.name: p.read_bytes() for p in card.parent.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]          # no staging folder left behind
    validate_shared(card.parent)
    with pytest.raises(ValueError, match="cannot be shared"):
        export_dataset(text_array, tmp_path / "new", licence="CC0-1.0", creators="A")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]          # nor a half-written new folder
    export_dataset(Dataset(pd.DataFrame({"phi": [0.3]}), pd.DataFrame({"k": [1.7]}), {}, {}, {}), card.parent,
                   licence="CC0-1.0", creators="A", overwrite=True)
    assert load_shared(card.parent).targets["k"].tolist() == [1.7]
