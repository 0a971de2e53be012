"""GNNRegressor: message passing on graphs in plain torch; invariance, batching, persistence, bad input."""
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.dummy import DummyRegressor

from mslearn import deployment
from mslearn.surrogates import GNNRegressor
from mslearn.surrogates.gnn import collate_graphs


def make_graphs(n_graphs, seed):
    """Random graphs (5-15 nodes: a ring plus random chords, both edge directions) with node features
    (area share a_i, value x_i) and an edge feature e_ij; target: area-weighted mean of x plus an
    edge term, y = sum_i a_i x_i + 0.5 sum_i a_i sum_{j in N(i)} e_ij x_j."""
    rng = np.random.default_rng(seed)
    graphs, y = [], []
    for _ in range(n_graphs):
        n = int(rng.integers(5, 16))
        pairs = {(i, (i + 1) % n) for i in range(n)}
        for _ in range(n):
            i, j = rng.choice(n, 2, replace=False)
            pairs.add((min(i, j), max(i, j)))
        pairs = np.array(sorted(pairs)).T
        area = rng.uniform(0.2, 1.0, n)
        area /= area.sum()
        x = rng.uniform(-1, 1, n)
        e = rng.uniform(0, 1, pairs.shape[1])
        edge_index = np.concatenate([pairs, pairs[::-1]], axis=1)
        edge_features = np.concatenate([e, e])
        neighbours = np.zeros(n)
        np.add.at(neighbours, edge_index[1], edge_features * x[edge_index[0]])
        y.append(area @ x + 0.5 * area @ neighbours)
        graphs.append({"node_features": np.stack([area, x], 1).astype(np.float32),
                       "edge_index": edge_index.astype(np.int64),
                       "edge_features": edge_features[:, None].astype(np.float32)})
    return graphs, np.array(y)


@pytest.fixture(scope="module")
def data():
    graphs, y = make_graphs(400, seed=0)
    return graphs[:300], y[:300], graphs[300:], y[300:]


@pytest.fixture(scope="module")
def fitted(data):
    graphs, y, _, _ = data
    return GNNRegressor(hidden=32, n_rounds=2, node_weight=0, max_iter=60, random_state=0, device="cpu").fit(graphs, y)


def permuted(graph, permutation):
    """The same graph with node i renamed permutation[i] (and the edges listed in another order)."""
    nodes = np.empty_like(graph["node_features"])
    nodes[permutation] = graph["node_features"]
    order = np.random.default_rng(0).permutation(graph["edge_index"].shape[1])
    return {"node_features": nodes, "edge_index": permutation[graph["edge_index"]][:, order],
            "edge_features": graph["edge_features"][order]}


def test_learns_graph_property_beyond_baseline(data, fitted):
    """Held-out R^2 >= 0.95 (the mean predictor scores ~0)."""
    graphs, y, graphs_test, y_test = data
    assert fitted.score(graphs_test, y_test) >= 0.95
    baseline = DummyRegressor().fit(np.zeros((len(y), 1)), y).score(np.zeros((len(y_test), 1)), y_test)
    assert fitted.score(graphs_test, y_test) - baseline >= 0.9


def test_permutation_invariance(data, fitted):
    graphs = data[2][:20]
    rng = np.random.default_rng(1)
    relabeled = [permuted(g, rng.permutation(len(g["node_features"]))) for g in graphs]
    np.testing.assert_allclose(fitted.predict(relabeled), fitted.predict(graphs), rtol=1e-6, atol=1e-6)


def test_batched_equals_single_graph_predictions(data, fitted):
    graphs = data[2][:15]
    batched = fitted.predict(graphs)
    single = np.array([fitted.predict([g])[0] for g in graphs])
    np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-6)


def test_collate_offsets_edges():
    graphs, _ = make_graphs(3, seed=4)
    batch = collate_graphs(graphs)
    sizes = [len(g["node_features"]) for g in graphs]
    assert batch["node_features"].shape == (sum(sizes), 2)
    np.testing.assert_array_equal(batch["batch"], np.repeat([0, 1, 2], sizes))
    n0 = graphs[0]["edge_index"].shape[1]
    np.testing.assert_array_equal(batch["edge_index"][:, n0:n0 + 3], graphs[1]["edge_index"][:, :3] + sizes[0])
    # edges never cross graphs
    assert np.all(batch["batch"][batch["edge_index"][0]] == batch["batch"][batch["edge_index"][1]])


def test_multi_target_sum_readout_and_unweighted(data):
    graphs, y = data[0][:80], data[1][:80]
    Y = np.column_stack([y, 2 * y])
    model = GNNRegressor(hidden=8, readout="sum", max_iter=3, device="cpu").fit(graphs, Y)
    assert model.predict(data[2][:4]).shape == (4, 2)


def test_early_stopping_history(fitted):
    assert fitted.best_epoch_ == int(np.argmin(fitted.history_["validation"]))
    assert len(fitted.history_["train"]) <= 60


def test_save_load_identical_predictions(data, fitted, tmp_path):
    path = deployment.save(fitted, tmp_path / "gnn")
    np.testing.assert_array_equal(deployment.load(path).predict(data[2]), fitted.predict(data[2]))


def test_same_seed_same_model(data):
    graphs, y = data[0][:80], data[1][:80]
    small = GNNRegressor(hidden=8, max_iter=3, random_state=2, device="cpu")
    a = clone(small).fit(graphs, y).predict(data[2][:10])
    np.testing.assert_array_equal(clone(small).fit(graphs, y).predict(data[2][:10]), a)
    assert not np.allclose(clone(small).set_params(random_state=3).fit(graphs, y).predict(data[2][:10]), a)


def test_threads_restored(data, fitted):
    before = torch.get_num_threads()
    fitted.predict(data[2][:3])
    assert torch.get_num_threads() == before


def test_bad_inputs(data, fitted):
    graphs, y, graphs_test, _ = data
    good = graphs_test[0]
    with pytest.raises(ValueError, match=r"misses the key\(s\) \['edge_features'\]"):
        fitted.predict([{k: v for k, v in good.items() if k != "edge_features"}])
    with pytest.raises(TypeError, match="wrap a single graph"):
        fitted.predict(good)
    out_of_range = dict(good, edge_index=good["edge_index"].copy())
    out_of_range["edge_index"][1, 0] = len(good["node_features"])
    with pytest.raises(ValueError, match=r"refers to node \d+, but the graph has \d+ nodes"):
        fitted.predict([out_of_range])
    with pytest.raises(ValueError, match="has 3 node features; expected 2"):
        fitted.predict([dict(good, node_features=np.ones((len(good["node_features"]), 3)))])
    with pytest.raises(ValueError, match="has 2 edge features; expected 1"):
        fitted.predict([dict(good, edge_features=np.ones((good["edge_index"].shape[1], 2)))])
    with pytest.raises(ValueError, match=r"edge_features'\] has shape"):
        fitted.predict([dict(good, edge_features=good["edge_features"][:-1])])
    nan = dict(good, node_features=good["node_features"].copy())
    nan["node_features"][0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict([nan])
    with pytest.raises(ValueError, match=r"edge_index'\] has shape"):
        fitted.predict([dict(good, edge_index=good["edge_index"].T)])
    with pytest.raises(ValueError, match="empty"):
        fitted.predict([])
    with pytest.raises(ValueError, match="y has shape"):
        GNNRegressor(device="cpu").fit(graphs[:10], y[:9])
    with pytest.raises(ValueError, match="node weights"):
        negative = dict(good, node_features=good["node_features"] * np.array([-1.0, 1.0], dtype=np.float32))
        GNNRegressor(node_weight=0, device="cpu").fit([negative] * 10, y[:10])
    with pytest.raises(ValueError, match="readout"):
        GNNRegressor(readout="max", device="cpu").fit(graphs[:10], y[:10])


@pytest.mark.gpu
def test_gpu_training_loads_on_cpu(data, tmp_path):
    graphs, y, graphs_test, _ = data
    model = GNNRegressor(hidden=16, max_iter=3, device="cuda").fit(graphs, y)
    loaded = deployment.load(deployment.save(model, tmp_path / "gnn_gpu"))
    np.testing.assert_allclose(loaded.predict(graphs_test), model.predict(graphs_test), rtol=1e-4, atol=1e-5)


def test_messages_summed_per_node_equal_the_per_edge_network(data):
    """forward applies each message MLP's first layer per node and its second after the sum over the
    edges; forward_per_edge applies the MLP edge by edge, as the module docstring writes it. Same
    parameters, so the outputs and the parameter gradients agree to float64 rounding (1e-12), including
    a node without incoming edges (its sum is zero in both) and graphs without edge features."""
    from mslearn.surrogates.gnn import _MPNN
    graphs, _, _, _ = data
    batch = collate_graphs(graphs[:20])
    kept = batch["edge_index"][1] != 0                                   # node 0 receives nothing
    for n_edge in (1, 0):
        torch.manual_seed(0)
        network = _MPNN(2, n_edge, 2, 16, 3, torch.nn.SiLU, "mean").double()
        args = (torch.as_tensor(batch["node_features"], dtype=torch.float64),
                torch.as_tensor(batch["edge_index"][:, kept]),
                torch.as_tensor(batch["edge_features"][kept, :n_edge], dtype=torch.float64),
                torch.as_tensor(batch["batch"]), torch.as_tensor(batch["node_features"][:, 0], dtype=torch.float64), 20)
        outputs, gradients = [], []
        for forward in (network.forward, network.forward_per_edge):
            network.zero_grad()
            out = forward(*args)
            out.square().sum().backward()
            outputs.append(out.detach())
            gradients.append(torch.cat([p.grad.flatten() for p in network.parameters()]))
        torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(gradients[0], gradients[1], rtol=1e-10, atol=1e-12)


def test_prediction_in_chunks_equals_one_batch(data, fitted, monkeypatch):
    """predict takes the graphs in cache-sized chunks on the CPU; chunks of one graph each give the same
    numbers as one chunk of all (float32 rounding)."""
    from mslearn.surrogates import gnn
    _, _, graphs_test, _ = data
    monkeypatch.setattr(gnn, "CPU_CHUNK_BYTES", 10**12)
    whole = fitted.predict(graphs_test)
    monkeypatch.setattr(gnn, "CPU_CHUNK_BYTES", 1)
    assert len(list(gnn._chunks(fitted._checked(graphs_test), fitted.hidden, torch.device("cpu")))) == len(graphs_test)
    np.testing.assert_allclose(fitted.predict(graphs_test), whole, rtol=1e-5, atol=1e-6)


def test_complex_features_are_refused(data, fitted):
    """Complex node or edge features were cast to float with only numpy's ComplexWarning (the imaginary part
    dropped); they are refused, naming the graph and the key."""
    _, _, graphs_test, _ = data
    for key in ("node_features", "edge_features"):
        bad = [dict(g) for g in graphs_test[:3]]
        bad[1][key] = bad[1][key] + 0j
        with pytest.raises(TypeError, match=rf"graphs\[1\]\['{key}'\] has the complex dtype complex\d+; "
                                            "expected real numbers"):
            fitted.predict(bad)


def test_bad_values_name_the_graph_they_are_in(data, fitted):
    """The value checks run on all graphs at once; the error still names the first bad graph."""
    _, _, graphs_test, _ = data
    bad = [dict(g) for g in graphs_test[:5]]
    bad[3]["edge_features"] = bad[3]["edge_features"].copy()
    bad[3]["edge_features"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"graphs\[3\]\['edge_features'\] contains NaN or infinite"):
        fitted.predict(bad)
    bad = [dict(g) for g in graphs_test[:5]]
    bad[2]["edge_index"] = bad[2]["edge_index"].copy()
    bad[2]["edge_index"][0, 1] = -1
    with pytest.raises(ValueError, match=r"graphs\[2\]\['edge_index'\] refers to node -1"):
        fitted.predict(bad)
    bad = [dict(g) for g in graphs_test[:5]]
    bad[4]["node_features"] = bad[4]["node_features"] * np.array([0.0, 1.0], dtype=np.float32)
    with pytest.raises(ValueError, match=r"graphs\[4\]: node weights .* positive sum"):
        fitted.predict(bad)
