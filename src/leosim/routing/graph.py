"""The routing graph of one time step.

Nodes ``0..N-1`` are satellites and ``N..N+M-1`` ground sites (a site's *in-node*: where traffic
arrives). A site that must not relay traffic (every terminal; any site when ground relays are off)
sends through a separate *out-node* ``N+M+k`` that has outgoing edges only, so no shortest path can
pass through it. Edge weights are one-way propagation delays in milliseconds:

* laser ISL, both directions: length / c;
* ground-satellite: satellite -> site in-node, and site out-node (in-node if it relays) ->
  satellite: slant range / c;
* fibre between sites: in-node <-> in-node, plus out-node -> in-node for non-relaying ends:
  length x route factor x 1.47 / c.
"""

from __future__ import annotations

import attrs
import numpy as np
from numba import njit
from scipy.sparse import csr_matrix

from leosim.constants import C_KM_S
from leosim.links.fibre import FibreLinks
from leosim.links.ground import GroundLinks

_MS_PER_KM = 1e3 / C_KM_S


@attrs.frozen
class Topology:
    """Every link that is up at one time step.

    Attributes
    ----------
    n_sats, n_sites : int
    isl_pairs : ndarray (K, 2) int
        Satellite index pairs of the laser links that are up.
    isl_length_km : ndarray (K,)
    gsl : GroundLinks
    fibre : FibreLinks
    relay : ndarray (M,) bool
        Sites allowed to relay traffic satellite -> site -> satellite (gateways with ground relays).
    gsl_capacity_mbps : ndarray (L,) or None
        Downlink capacity of each ground link (link budget), when computed.
    jammed_sites : ndarray (M,) bool or None
        Sites that had satellites in view but lost every link to a jammer at this step.
    """

    n_sats: int
    n_sites: int
    isl_pairs: np.ndarray
    isl_length_km: np.ndarray
    gsl: GroundLinks
    fibre: FibreLinks
    relay: np.ndarray
    gsl_capacity_mbps: np.ndarray | None = None
    jammed_sites: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        """Satellites + site in-nodes (the ids used in paths)."""
        return self.n_sats + self.n_sites


@attrs.frozen
class RoutingGraph:
    """Directed CSR graph (weights in ms) and the node each site's traffic starts from."""

    matrix: csr_matrix
    source_node: np.ndarray  # (M,) start node of each site
    n_sats: int
    n_sites: int

    def to_public_node(self, node: np.ndarray) -> np.ndarray:
        """Map out-nodes back to their site's in-node id (paths use in-node ids)."""
        node = np.asarray(node)
        off = self.n_sats + self.n_sites
        return np.where(node >= off, node - self.n_sites, node)


def edge_list(topo: Topology) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges ``(src, dst, weight_ms)`` of ``topo`` (see module docstring)."""
    n, m = topo.n_sats, topo.n_sites
    site_in = n + np.arange(m)
    site_out = np.where(topo.relay, site_in, n + m + np.arange(m))
    isl_w = topo.isl_length_km * _MS_PER_KM
    a, b = topo.isl_pairs[:, 0], topo.isl_pairs[:, 1]
    gs, gk, gw = topo.gsl.sat, topo.gsl.site, topo.gsl.range_km * _MS_PER_KM
    fa, fb, fw = topo.fibre.a, topo.fibre.b, topo.fibre.delay_ms
    src = [a, b, gs, site_out[gk], site_in[fa], site_in[fb]]
    dst = [b, a, site_in[gk], gs, site_in[fb], site_in[fa]]
    w = [isl_w, isl_w, gw, gw, fw, fw]
    # Non-relaying fibre ends also send from their out-node.
    for x, y in ((fa, fb), (fb, fa)):
        sel = ~topo.relay[x]
        src.append(site_out[x[sel]])
        dst.append(site_in[y[sel]])
        w.append(topo.fibre.delay_ms[sel])
    return (np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64),
            np.concatenate(w).astype(float))


def build_graph(topo: Topology) -> RoutingGraph:
    """The :class:`RoutingGraph` of a topology.

    Edge lists never repeat a (src, dst) pair (ISL pairs, ground links and fibre pairs are each
    unique), so the CSR arrays are built directly (rows sorted by column, compiled).
    """
    n, m = topo.n_sats, topo.n_sites
    src, dst, w = edge_list(topo)
    n_nodes = n + 2 * m
    indptr, indices, data = _csr(src, dst, w, n_nodes)
    mat = csr_matrix((data, indices, indptr), shape=(n_nodes, n_nodes), copy=False)
    mat.has_sorted_indices = True
    source_node = np.where(topo.relay, n + np.arange(m), n + m + np.arange(m))
    return RoutingGraph(mat, source_node, n, m)


@njit(cache=True, nogil=True)
def _csr(src, dst, w, n_nodes):
    """CSR arrays of the edges ``src -> dst`` (weights ``w``), each row sorted by column."""
    indptr = np.zeros(n_nodes + 1, dtype=np.int32)
    for s in src:
        indptr[s + 1] += 1
    for i in range(n_nodes):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    indices = np.empty(len(src), dtype=np.int32)
    data = np.empty(len(src), dtype=np.float64)
    for e in range(len(src)):
        k = fill[src[e]]
        fill[src[e]] += 1
        indices[k] = dst[e]
        data[k] = w[e]
    for i in range(n_nodes):  # rows are short (a few links): insertion sort
        for k in range(indptr[i] + 1, indptr[i + 1]):
            c, x = indices[k], data[k]
            j = k - 1
            while j >= indptr[i] and indices[j] > c:
                indices[j + 1] = indices[j]
                data[j + 1] = data[j]
                j -= 1
            indices[j + 1] = c
            data[j + 1] = x
    return indptr, indices, data
