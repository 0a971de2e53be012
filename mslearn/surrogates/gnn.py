r"""Graph-to-property surrogate: a message-passing neural network on grain graphs.

The review's graph-based property predictors (kind II of its Table 1; Dai et al. 2021 predict
magnetostriction of polycrystals from grain graphs): a polycrystal is summarized by a graph whose
nodes are grains (features: area fraction, orientation, ...) and whose edges join neighbouring
grains (features: shared boundary length, boundary property, ...). A message-passing neural network
(Gilmer et al. 2017) learns from such graphs:

.. math::

    h_i^{(0)} = \phi_0(x_i), \qquad
    m_{ij}^{(t)} = \phi_t\big([h_i^{(t)}, h_j^{(t)}, e_{ij}]\big), \qquad
    a_i^{(t)} = \sum_{j \in \mathcal N(i)} m_{ij}^{(t)}, \qquad
    h_i^{(t+1)} = \mathrm{GRU}\big(a_i^{(t)}, h_i^{(t)}\big),

for :math:`t = 0, \dots, T-1`, then a graph-level readout
:math:`y = \psi\big(\sum_i w_i h_i^{(T)} / \sum_i w_i\big)` — a mean over nodes, weighted by the
node area :math:`w_i` when ``node_weight`` names that feature column (the effective property of a
polycrystal is a volume average to first order) — or a (weighted) sum with ``readout="sum"``.
:math:`\phi_t` and :math:`\psi` are small MLPs; messages are edge-conditioned (they see the edge
features :math:`e_{ij}`), as in Gilmer's edge network and CGCNN (Xie & Grossman 2018).

Sum aggregation and the readout are invariant to the numbering of the nodes, so the prediction is
exactly permutation invariant (to float rounding). Graphs are batched by concatenating their nodes
and offsetting their edge indices; a ``batch`` vector assigns nodes to graphs.

Why hand-written: PyTorch Geometric would add a compiled dependency for ``index_add_`` and a GRU
cell; the whole network is a few dozen lines of plain torch.

References
----------
J. Gilmer, S. S. Schoenholz, P. F. Riley, O. Vinyals, G. E. Dahl, "Neural message passing for quantum
chemistry", ICML 2017 (gilmer2017neural).
T. Xie, J. C. Grossman, "Crystal graph convolutional neural networks for an accurate and
interpretable prediction of material properties", Phys. Rev. Lett. 120, 145301 (2018) (xie2018crystal).
M. Dai, M. F. Demirel, Y. Liang, J.-M. Hu, "Graph neural networks for an accurate and interpretable
prediction of the properties of polycrystalline materials", npj Comput. Mater. 7, 103 (2021)
(dai2021graph).
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array, check_is_fitted

from .._backend import device as resolve_device
from .._validation import check_integer, check_real
from ..nn import activation, seeded
from ._torch_estimator import (TorchRegressor, check_training_settings, cpu_threads, fit_network,
                               keeps_state_on_failure, split_train_validation)

__all__ = ["GNNRegressor", "collate_graphs"]

_KEYS = ("node_features", "edge_index", "edge_features")


# ----------------------------------------------------------------------------- graphs
def _check_graphs(graphs, n_node_features=None, n_edge_features=None):
    """Validate a list of graph dicts; return them as (node float64, edge_index int64, edge float64).

    Shapes and dtypes are checked graph by graph; the values (finite features, edge indices within each
    graph's nodes) on all graphs at once, and only where one fails is the first bad graph looked up, so
    that checking costs a few microseconds a graph, well below the prediction it guards."""
    if isinstance(graphs, dict):
        raise TypeError("graphs must be a list of graph dicts; wrap a single graph as [graph]")
    try:
        graphs = list(graphs)
    except TypeError:
        raise TypeError(f"graphs must be a list of graph dicts, got {type(graphs).__name__}") from None
    if not graphs:
        raise ValueError("graphs is empty; expected a list of at least one graph dict")
    out = []
    for number, graph in enumerate(graphs):
        if not isinstance(graph, dict):
            raise TypeError(f"graphs[{number}] is a {type(graph).__name__}; expected a dict with keys {_KEYS}")
        missing = [key for key in _KEYS if key not in graph]
        if missing:
            raise ValueError(f"graphs[{number}] misses the key(s) {missing}; expected keys {list(_KEYS)}")
        for key in ("node_features", "edge_features"):
            check_real(graph[key], name=f"graphs[{number}][{key!r}]")
        nodes = np.asarray(graph["node_features"], dtype=np.float64)
        edges = np.asarray(graph["edge_index"])
        edge_features = np.asarray(graph["edge_features"], dtype=np.float64)
        if nodes.ndim != 2 or nodes.shape[0] == 0:
            raise ValueError(f"graphs[{number}]['node_features'] has shape {nodes.shape}; expected (n_nodes, f) "
                             "with at least one node")
        if edges.ndim != 2 or edges.shape[0] != 2:
            raise ValueError(f"graphs[{number}]['edge_index'] has shape {edges.shape}; expected (2, n_edges)")
        if edges.size and not np.issubdtype(edges.dtype, np.integer):
            raise TypeError(f"graphs[{number}]['edge_index'] must hold integers, got dtype {edges.dtype}")
        edges = edges.astype(np.int64, copy=False)
        if edge_features.ndim == 1 and edge_features.size == 0:
            edge_features = edge_features.reshape(0, n_edge_features or 0)
        if edge_features.ndim != 2 or edge_features.shape[0] != edges.shape[1]:
            raise ValueError(f"graphs[{number}]['edge_features'] has shape {edge_features.shape}; expected "
                             f"(n_edges, g) with n_edges = {edges.shape[1]} (one row per column of edge_index)")
        if n_node_features is None:
            n_node_features = nodes.shape[1]
        if nodes.shape[1] != n_node_features:
            raise ValueError(f"graphs[{number}] has {nodes.shape[1]} node features; expected {n_node_features} "
                             "(as in the other graphs / the training graphs)")
        if n_edge_features is None:
            n_edge_features = edge_features.shape[1]
        if edge_features.shape[1] != n_edge_features:
            raise ValueError(f"graphs[{number}] has {edge_features.shape[1]} edge features; expected "
                             f"{n_edge_features} (as in the other graphs / the training graphs)")
        out.append((nodes, edges, edge_features))
    for part, key in ((0, "node_features"), (2, "edge_features")):
        if not np.isfinite(np.concatenate([graph[part] for graph in out])).all():
            number = next(i for i, graph in enumerate(out) if not np.all(np.isfinite(graph[part])))
            raise ValueError(f"graphs[{number}]['{key}'] contains NaN or infinite values")
    n_nodes = np.array([len(nodes) for nodes, _, _ in out])
    n_edges = np.array([edges.shape[1] for _, edges, _ in out])
    indices = np.concatenate([edges for _, edges, _ in out], axis=1)
    if ((indices < 0) | (indices >= np.repeat(n_nodes, n_edges))).any():
        for number, (nodes, edges, _) in enumerate(out):
            if edges.size and (edges.min() < 0 or edges.max() >= len(nodes)):
                bad = edges.min() if edges.min() < 0 else edges.max()
                raise ValueError(f"graphs[{number}]['edge_index'] refers to node {bad}, but the graph has "
                                 f"{len(nodes)} nodes (valid indices 0..{len(nodes) - 1})")
    return out


def collate_graphs(graphs):
    """Batch graphs into one: concatenated node and edge features, offset edge indices, ``batch`` vector.

    Parameters
    ----------
    graphs : list of dicts ``node_features`` ``(n_i, f)``, ``edge_index`` ``(2, e_i)``, ``edge_features``
        ``(e_i, g)``.

    Returns
    -------
    dict with ``node_features`` ``(N, f)``, ``edge_index`` ``(2, E)`` (indices into the concatenated
    nodes), ``edge_features`` ``(E, g)``, ``batch`` ``(N,)`` (graph of each node), numpy arrays.

    Examples
    --------
    Two graphs of 2 and 3 nodes with one edge each; the second graph's edge indices shift by 2:

    >>> import numpy as np
    >>> def graph(n):
    ...     return dict(node_features=np.ones((n, 2)), edge_index=np.array([[0], [n - 1]]), edge_features=np.ones((1, 1)))
    >>> batch = collate_graphs([graph(2), graph(3)])
    >>> batch["edge_index"], batch["batch"], batch["node_features"].shape
    (array([[0, 2],
           [1, 4]]), array([0, 0, 1, 1, 1]), (5, 2))
    """
    checked = _check_graphs(graphs)
    return _collate(checked)


def _collate(checked):
    sizes = np.array([len(n) for n, _, _ in checked])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return {"node_features": np.concatenate([n for n, _, _ in checked]),
            "edge_index": np.concatenate([e + o for (_, e, _), o in zip(checked, offsets)], axis=1),
            "edge_features": np.concatenate([f for _, _, f in checked]),
            "batch": np.repeat(np.arange(len(checked)), sizes)}


#: On the CPU, :meth:`GNNRegressor.predict` takes graphs in chunks whose edge messages (edges x hidden,
#: float32) take about this many bytes, so that the per-edge arrays of a round stay in the cache: 64 grain
#: graphs of ~110 directed edges at hidden 48 predicted 1.6x faster per graph than 600 at once (one
#: thread, Intel Xeon). On a GPU the chunks are of 512 graphs, the more the better there.
CPU_CHUNK_BYTES = 2**20


def _chunks(checked, hidden, device):
    """``checked`` graphs in consecutive chunks for prediction (see ``CPU_CHUNK_BYTES``)."""
    if device.type != "cpu":
        yield from (checked[start:start + 512] for start in range(0, len(checked), 512))
        return
    start, size = 0, 0
    for number, (_, edges, _) in enumerate(checked):
        cost = (edges.shape[1] + 1) * hidden * 4
        if size + cost > CPU_CHUNK_BYTES and number > start:
            yield checked[start:number]
            start, size = number, 0
        size += cost
    yield checked[start:]


# ----------------------------------------------------------------------------- network
def _mlp(n_in, hidden, n_out, activation):
    return torch.nn.Sequential(torch.nn.Linear(n_in, hidden), activation(), torch.nn.Linear(hidden, n_out))


class _MPNN(torch.nn.Module):
    r"""The network of the module docstring. Each message MLP :math:`\phi_t = W_2\,\sigma(W_1 [h_i, h_j, e_{ij}]
    + b_1) + b_2` is evaluated in the order that costs least, with the same parameters and the same value
    (up to float rounding):

    - :math:`W_1 [h_i, h_j, e_{ij}] = W_1^{\rm to} h_i + W_1^{\rm from} h_j + W_1^{e} e_{ij}`: the node
      terms are computed once per node and gathered along the edges, not once per edge;
    - :math:`W_2` is linear, so :math:`a_i = \sum_j \phi_t = W_2 \sum_j \sigma(\cdot) + \deg(i)\, b_2`:
      applied once per node after the sum.

    Per edge and round that leaves a few additions and the activation (:math:`O(h)`) instead of two matrix
    products (:math:`O(h^2)`). Grain graphs have about six directed edges per node: the forward pass took
    0.068 against 0.127 ms per graph (hidden 48, three rounds, 64 graphs at a time, one thread, Intel Xeon);
    ``benchmarks/bench_surrogate_speedup.py`` times prediction against the solver."""

    def __init__(self, n_node, n_edge, n_out, hidden, n_rounds, activation, readout):
        super().__init__()
        self.embed = _mlp(n_node, hidden, hidden, activation)
        self.messages = torch.nn.ModuleList([_mlp(2 * hidden + n_edge, hidden, hidden, activation)
                                             for _ in range(n_rounds)])
        self.update = torch.nn.GRUCell(hidden, hidden)
        self.head = _mlp(2 * hidden, hidden, n_out, activation)
        self.readout = readout

    def forward(self, x, edge_index, e, batch, weight, n_graphs):
        """x (N, f), edge_index (2, E) source→target, e (E, g), batch (N,), weight (N,) → (n_graphs, n_out)."""
        h = self.embed(x)
        h0 = h
        hidden = h.shape[1]
        source, target = edge_index[0], edge_index[1]
        degree = torch.zeros(len(h), dtype=h.dtype, device=h.device).index_add_(
            0, target, torch.ones(len(target), dtype=h.dtype, device=h.device))
        for first, sigma, second in self.messages:
            roles = torch.cat(first.weight[:, :2 * hidden].split(hidden, dim=1))   # W1_to stacked on W1_from
            to, from_ = (h @ roles.T).split(hidden, dim=1)                      # W1_to h, W1_from h per node
            pre = to.add(first.bias).index_select(0, target).add_(from_.index_select(0, source))
            s = sigma(pre.addmm_(e, first.weight[:, 2 * hidden:].T))                # sigma(W1 [h_i, h_j, e_ij] + b1)
            summed = torch.zeros_like(h).index_add_(0, target, s)                   # sum_j sigma(.) for edges j -> i
            a = torch.nn.functional.linear(summed, second.weight) + degree[:, None] * second.bias
            h = self.update(a, h)
        return self._readout(h, h0, batch, weight, n_graphs)

    def _readout(self, h, h0, batch, weight, n_graphs):
        """psi of the (weighted) mean or sum over each graph's nodes of [h^(T), h^(0)]."""
        z = torch.cat([h, h0], dim=1) * weight[:, None]
        pooled = torch.zeros(n_graphs, z.shape[1], dtype=z.dtype, device=z.device).index_add_(0, batch, z)
        if self.readout == "mean":
            total = torch.zeros(n_graphs, dtype=z.dtype, device=z.device).index_add_(0, batch, weight)
            pooled = pooled / total[:, None]
        return self.head(pooled)

    def forward_per_edge(self, x, edge_index, e, batch, weight, n_graphs):
        """The same network with every message MLP applied edge by edge, as written in the module docstring
        (the reference the tests hold :meth:`forward` to)."""
        h = self.embed(x)
        h0 = h
        source, target = edge_index[0], edge_index[1]
        for message in self.messages:
            m = message(torch.cat([h[target], h[source], e], dim=1))            # m_ij for edge j -> i
            a = torch.zeros_like(h).index_add_(0, target, m)                    # a_i = sum_j m_ij
            h = self.update(a, h)
        return self._readout(h, h0, batch, weight, n_graphs)


# ----------------------------------------------------------------------------- estimator
class GNNRegressor(TorchRegressor):
    r"""Graph → property regressor: edge-conditioned message passing with a GRU update, in plain torch.

    Inputs are lists of graph dicts ``node_features`` ``(n_nodes, f)``, ``edge_index`` ``(2, n_edges)``
    (row 0 the source, row 1 the target of each directed edge: give both directions for an
    undirected graph), ``edge_features`` ``(n_edges, g)``; targets ``(n,)`` or ``(n, k)``. Node and
    edge features and targets are standardized with training statistics.

    Parameters
    ----------
    hidden : int
        Width of node states and of every MLP.
    n_rounds : int
        Message-passing rounds :math:`T` (each node sees neighbours up to :math:`T` edges away).
    readout : {"mean", "sum"}
        Graph readout of the final node states (concatenated with the initial embeddings).
    node_weight : int, optional
        Column of ``node_features`` holding a non-negative node weight (e.g. grain area fraction);
        the readout is then weighted by it. Default: every node weighs 1.
    activation : {"silu", "gelu", "relu", "tanh"}
    learning_rate_init, lr_schedule, max_iter, batch_size, weight_decay
        As in :class:`~mslearn.surrogates.CNNRegressor`; ``batch_size`` counts graphs.
    validation_fraction, patience, random_state, device, progress
        As in :class:`~mslearn.surrogates.CNNRegressor`.
    cpu_threads : int, optional
        Torch CPU threads during ``fit``/``predict`` (restored afterwards; ``None``: torch's setting).
        Default 1: graph batches are small tensors, for which one thread beats several.
    warm_start : bool
        Continue training the fitted network (more epochs, fine-tuning), as in
        :class:`~mslearn.surrogates.MLPRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from mslearn.surrogates import GNNRegressor
    >>> ring = lambda n: np.stack([np.arange(n), (np.arange(n) + 1) % n])
    >>> graphs = [{"node_features": np.ones((n, 1)), "edge_index": ring(n),
    ...            "edge_features": np.ones((n, 1))} for n in range(3, 13)]
    >>> model = GNNRegressor(hidden=8, max_iter=3, device="cpu").fit(graphs, np.arange(3.0, 13.0))
    >>> model.predict(graphs[:2]).shape
    (2,)
    """

    def __init__(self, hidden=64, n_rounds=3, readout="mean", node_weight=None, activation="silu", *,
                 learning_rate_init=3e-3, lr_schedule="cosine", max_iter=200, batch_size=32, weight_decay=0.0,
                 validation_fraction=0.15, patience=40, random_state=0, device="auto", cpu_threads=1, progress=False,
                 warm_start=False):
        self.hidden = hidden
        self.n_rounds = n_rounds
        self.readout = readout
        self.node_weight = node_weight
        self.activation = activation
        self.lr_schedule = lr_schedule
        self.cpu_threads = cpu_threads
        self.warm_start = warm_start
        self._init_training(learning_rate_init, max_iter, batch_size, weight_decay, validation_fraction,
                            patience, random_state, device, progress)

    def _check_settings(self):
        if self.readout not in ("mean", "sum"):
            raise ValueError(f"readout = {self.readout!r}; expected 'mean' or 'sum'")
        activation(self.activation)
        check_integer(self.hidden, 1, name="hidden")
        check_integer(self.n_rounds, 0, name="n_rounds")
        check_training_settings(self)

    def _checked(self, graphs, fitting=False):
        if fitting:
            checked = _check_graphs(graphs)
        else:
            checked = _check_graphs(graphs, self.n_node_features_, self.n_edge_features_)
        if self.node_weight is not None:
            f = checked[0][0].shape[1]
            if not isinstance(self.node_weight, numbers.Integral) or not -f <= self.node_weight < f:
                raise ValueError(f"node_weight = {self.node_weight!r}; expected a column index of the {f} node "
                                 "features")
            weights = np.concatenate([nodes[:, self.node_weight] for nodes, _, _ in checked])
            starts = np.cumsum([0] + [len(nodes) for nodes, _, _ in checked[:-1]])
            bad = np.minimum.reduceat(weights, starts) < 0
            bad |= ~np.logical_or.reduceat(weights > 0, starts)
            if bad.any():
                raise ValueError(f"graphs[{int(np.argmax(bad))}]: node weights (node_features[:, {self.node_weight}]) "
                                 "must be non-negative with a positive sum")
        return checked

    def _tensors(self, checked, device):
        """All graphs concatenated once on ``device``, plus per-graph node/edge ranges."""
        batch = _collate(checked)
        as_float = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        nodes = batch["node_features"]
        weight = nodes[:, self.node_weight] if self.node_weight is not None else np.ones(len(nodes))
        n_sizes = np.array([len(n) for n, _, _ in checked])
        e_sizes = np.array([e.shape[1] for _, e, _ in checked])
        return {"x": as_float((nodes - self.node_mean_) / self.node_std_),
                "e": as_float((batch["edge_features"] - self.edge_mean_) / self.edge_std_),
                "edge_index": torch.as_tensor(batch["edge_index"], device=device),
                "weight": as_float(weight),
                "node_start": np.concatenate([[0], np.cumsum(n_sizes)]),
                "edge_start": np.concatenate([[0], np.cumsum(e_sizes)])}

    def _forward(self, data, graphs=None):
        """Network output for the graphs at positions ``graphs`` of the concatenated ``data`` (all of them, in
        order, by default)."""
        device = data["x"].device
        ns, es = data["node_start"], data["edge_start"]
        if graphs is None:
            batch = torch.as_tensor(np.repeat(np.arange(len(ns) - 1), np.diff(ns)), device=device)
            return self.network_(data["x"], data["edge_index"], data["e"], batch, data["weight"], len(ns) - 1)
        node_index = np.concatenate([np.arange(ns[g], ns[g + 1]) for g in graphs])
        edge_index_pos = np.concatenate([np.arange(es[g], es[g + 1]) for g in graphs])
        remap = np.full(ns[-1], -1, dtype=np.int64)
        remap[node_index] = np.arange(len(node_index))
        remap_t = torch.as_tensor(remap, device=device)
        node_t = torch.as_tensor(node_index, device=device)
        edge_t = torch.as_tensor(edge_index_pos, device=device)
        batch = torch.as_tensor(np.repeat(np.arange(len(graphs)), ns[np.asarray(graphs) + 1] - ns[graphs]),
                                device=device)
        return self.network_(data["x"][node_t], remap_t[data["edge_index"][:, edge_t]], data["e"][edge_t], batch,
                             data["weight"][node_t], len(graphs))

    @keeps_state_on_failure
    def fit(self, X, y):
        """Train on a list of graph dicts ``X`` and their targets ``y``. If it raises, the model is left as it was.

        Parameters
        ----------
        X : list of dict
            Graphs, each with ``node_features`` ``(n_nodes, f)``, ``edge_index`` ``(2, n_edges)`` (int) and
            ``edge_features`` ``(n_edges, g)`` (see the class).
        y : array-like, shape (n_graphs,) or (n_graphs, k)
            Targets, one row per graph, converted to float64.

        Returns
        -------
        self : GNNRegressor
            The fitted estimator.

        Raises
        ------
        TypeError
            If ``X`` is not a list of dicts, an ``edge_index`` does not hold integers, or a flag or an
            integer setting is not a bool or an integer.
        ValueError
            If a setting is invalid (``node_weight`` not a column index of the node features, a float
            included), a graph or ``y`` has another shape, a node weight is negative (or all of a graph's
            are zero), or a warm start meets other feature counts or target shapes.
        RuntimeError
            If the loss is non-finite in the first epoch (lower ``learning_rate_init``).
        """
        with cpu_threads(self.cpu_threads, self.device):
            return self._fit(X, y)

    def _fit(self, X, y):
        self._check_settings()
        checked = self._checked(X, fitting=True)
        y = check_array(y, dtype=np.float64, ensure_2d=False, input_name="y")
        if y.ndim not in (1, 2) or y.shape[0] != len(checked):
            raise ValueError(f"y has shape {y.shape}; expected ({len(checked)},) or ({len(checked)}, n_targets), "
                             "one target row per graph")
        y2 = y.reshape(len(y), -1)
        if self._warm():
            self._check_warm_shape("(node features, edge features, target shape)",
                                   (checked[0][0].shape[1], checked[0][2].shape[1], y.shape[1:]),
                                   (self.n_node_features_, self.n_edge_features_, tuple(self.output_shape_)))
            return self._train(checked, y2)
        self.n_node_features_ = checked[0][0].shape[1]
        self.n_edge_features_ = checked[0][2].shape[1]
        self.n_features_in_ = self.n_node_features_
        self.output_shape_ = y.shape[1:]
        nodes = np.concatenate([n for n, _, _ in checked])
        edges = np.concatenate([f for _, _, f in checked])
        self.node_mean_, self.node_std_ = nodes.mean(0), nodes.std(0)
        self.node_std_[self.node_std_ == 0] = 1.0
        if len(edges):
            self.edge_mean_, self.edge_std_ = edges.mean(0), edges.std(0)
            self.edge_std_[self.edge_std_ == 0] = 1.0
        else:
            self.edge_mean_, self.edge_std_ = np.zeros(edges.shape[1]), np.ones(edges.shape[1])
        self.y_mean_, self.y_std_ = y2.mean(0), y2.std(0)
        self.y_std_[self.y_std_ == 0] = 1.0
        return self._train(checked, y2)

    def _train(self, checked, y2):
        """Train on checked graphs and 2D targets (a new network, or the fitted one with warm start)."""
        warm = self._warm()
        device = resolve_device(self.device)
        train, validation, generator = split_train_validation(self, len(checked))
        data = self._tensors(checked, device)
        Y = torch.as_tensor((y2 - self.y_mean_) / self.y_std_, dtype=torch.float32, device=device)
        with seeded(self.random_state, device):
            self.network_ = self._continued(_MPNN(self.n_node_features_, self.n_edge_features_, y2.shape[1],
                                                  self.hidden, self.n_rounds, activation(self.activation),
                                                  self.readout), device)

        def train_loss(index):
            graphs_ = train[index]
            target = Y[torch.as_tensor(graphs_, device=device)]
            return torch.mean((self._forward(data, graphs_) - target) ** 2)

        def validation_loss():
            if not len(validation):
                return None
            target = Y[torch.as_tensor(validation, device=device)]
            return torch.mean((self._forward(data, validation) - target) ** 2).item()

        fit_network(self, self.network_, len(train), train_loss, validation_loss, generator, resumed=warm)
        return self

    def predict(self, X):
        """Predicted targets for a list of graph dicts.

        Parameters
        ----------
        X : list of dict
            Graphs, each with ``node_features`` ``(n_nodes, f)``, ``edge_index`` ``(2, n_edges)`` (int) and
            ``edge_features`` ``(n_edges, g)``, with the
            feature counts of the training graphs.

        Returns
        -------
        ndarray of float64, shape (n_graphs,) or (n_graphs, k)
            As the training ``y``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        TypeError, ValueError
            If ``X`` is not a list of graph dicts of the training feature counts.
        """
        check_is_fitted(self, "network_")
        with cpu_threads(self.cpu_threads, next(self.network_.parameters()).device):
            return self._predict(X)

    def _predict(self, X):
        check_is_fitted(self, "network_")
        checked = self._checked(X)
        device = next(self.network_.parameters()).device
        out = []
        self.network_.eval()
        with torch.no_grad():
            for part in _chunks(checked, self.hidden, device):
                data = self._tensors(part, device)
                out.append(self._forward(data).double().cpu().numpy())
        y = np.concatenate(out) * self.y_std_ + self.y_mean_
        return y.reshape((len(y),) + tuple(self.output_shape_))

    def score(self, X, y, sample_weight=None):
        """R² of :meth:`predict` (averaged uniformly over targets), as ``sklearn.metrics.r2_score``.

        Parameters
        ----------
        X : list of dict
            Graphs, as in :meth:`predict`.
        y : array-like, shape (n_graphs,) or (n_graphs, k)
            True targets.
        sample_weight : array-like, shape (n_graphs,), optional
            Weights of the graphs; default ``None``: equal weights.

        Returns
        -------
        float
        """
        return r2_score(y, self.predict(X), sample_weight=sample_weight)
