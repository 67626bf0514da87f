"""Collectives: what it costs chips to exchange data, one cost equation each.

Three patterns cover the course:

* all-reduce (tensor parallelism: every chip ends with the sum of everyone's partial result).
  A ring of n ranks moves 2 (n-1)/n of the message through each rank's link and takes 2 (n-1)
  steps, each with a fixed latency:
      t = base + 2 (n-1) x step_latency + 2 (n-1)/n x bytes / link_bandwidth     `all_reduce_time`
  The bandwidth term is NCCL's own bound ("independent of the algorithm used ... as long as they
  use point-to-point operations", nccl-tests doc/PERFORMANCE.md); the latencies are NCCL's cost
  model (src/graph/tuning.cc) for its low-latency protocol, which it picks for the small messages
  of a decode step. Where the model stops being true: measured small all-reduces are often slower
  (nccl-tests on 8 A100: 43.8 us for 32 KiB, in ml-engineering's network chapter), the custom
  one-shot kernels of TensorRT-LLM and vLLM faster; a TPU's 2D torus and NVLink SHARP take fewer
  steps than a ring of the same size, so for them the ring is an upper estimate.
* all-to-all (expert parallelism: every chip sends a different slice to every other). Over a
  scale-up domain of n chips inside P chips, a chip's bytes go (n-1)/P over scale-up links and
  (P-n)/P over scale-out NICs, both at once:
      t = max(bytes (n-1)/P / S_up, bytes (P-n)/P / S_out)                          `all_to_all_time`
* point-to-point hop (pipelining: one stage hands its activations to the next):
      t = latency + bytes / (links x bandwidth)                                      `hop_time`

Bandwidths are per chip, one direction (as in `hardware`). `layout` says how many physical chips
take part and how many of them share one scale-up domain.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import non_negative, positive, scalar_or_array, whole_number

#: Scale-out bandwidth per GPU, one direction: one 400 Gb/s NIC per GPU = 400e9 / 8 = 50e9 bytes/s.
#: DGX H100, H200 and B200 carry "eight single-port NVIDIA ConnectX-7 VPI ... up to 400 Gb/s
#: InfiniBand/Ethernet" adapters, one per GPU (NVIDIA DGX BasePOD reference architecture, core
#: components); scaling-book's gpus.md ("Beyond the node level") says the same: "8 400Gbps CX7
#: NICs (one per GPU)".
SCALEOUT_BANDWIDTH = 400e9 / 8
SCALEOUT_SOURCE = ("https://docs.nvidia.com/dgx-basepod/reference-architecture-infrastructure-"
                   "foundation-enterprise-ai/latest/core-components.html ; "
                   "https://github.com/jax-ml/scaling-book/blob/1a55377affc9ee8f10b549f689ad57e813623a7e/gpus.md")

#: NCCL's cost model, src/graph/tuning.cc at 01afd20: a ring all-reduce with the low-latency (LL)
#: protocol costs baseLat 3.6 us, plus hwLat 0.47 us per step over NVLink and 2.7 us per step over
#: the network. On 8 GPUs over NVLink: 3.6 + 2 x 7 x 0.47 = 10.2 us per all-reduce.
NCCL_SOURCE = "https://github.com/NVIDIA/nccl/blob/01afd20a77b5804e0ecf1042509dd9d20ebf9e93/src/graph/tuning.cc"
COLLECTIVE_BASE_LATENCY = 3.6e-6
NETWORK_STEP_LATENCY = 2.7e-6

#: Fixed cost of one point-to-point hop between racks (pipelining), in seconds. An ASSUMPTION of a
#: few microseconds, from the same cost model: a network hop is charged 2.7 to 9.6 us on top of a
#: 3.6 to 8.4 us base latency (arrays baseLat and hwLat[NET]).
HOP_LATENCY = 5e-6


def layout(hw, chips, domain=None):
    """(physical chips P, chips per scale-up domain n) when `chips` entries of `hw` work together.

    A rack() entry stands for hw.chips physical chips; its domain is the rack. `domain` overrides
    the domain size (domain=1 sends everything over the NICs). Arrays broadcast.
    """
    c = np.asarray(whole_number("chips", chips))
    p = c * hw.chips
    n = float(hw.chips if hw.chips > 1 else hw.scaleup_size) if domain is None else \
        np.asarray(whole_number("domain", domain))
    return p, np.minimum(n, p)


def all_reduce_time(nbytes, ranks, bandwidth, step_latency, *, domain=None,
                    scaleout_bandwidth: float = SCALEOUT_BANDWIDTH,
                    base_latency: float = COLLECTIVE_BASE_LATENCY,
                    network_step_latency: float = NETWORK_STEP_LATENCY):
    """Seconds for a ring all-reduce of `nbytes` (the message each rank holds) over `ranks` ranks.

        t = base + (steps inside domains) x step_latency + (steps between domains) x network latency
              + 2 (n-1)/n x nbytes / (slowest link's bandwidth)

    2 (n-1) steps in all, 2 (nodes - 1) of them between scale-up domains of `domain` ranks (NCCL's
    count). Once the ring leaves the domain, the NIC (`scaleout_bandwidth`) is its slowest link.
    One rank needs no all-reduce: 0. Llama 3.1 70B, 8 x H100, batch 1: 16 kB in 10.2 us, almost
    all latency; at batch 512, 8.4 MB adds 32.6 us of transfer at 450 GB/s.
    """
    n = np.asarray(whole_number("ranks", ranks))
    size = np.asarray(non_negative("nbytes", nbytes))
    d = n if domain is None else np.minimum(np.asarray(whole_number("domain", domain)), n)
    return all_reduce_kernel(size, n, d, float(positive("bandwidth", bandwidth)),
                       float(non_negative("step_latency", step_latency)), scaleout_bandwidth,
                       base_latency, network_step_latency)


def all_reduce_kernel(size, n, d, bandwidth, step_latency, scaleout_bandwidth, base_latency,
                      network_step_latency):
    """`all_reduce_time` on inputs already checked (floats or arrays): the step builder calls it
    on every step, so it validates nothing. Python floats stay floats."""
    if type(n) is float and type(d) is float:  # one chip count: scalar latencies, `size` may be an array
        if n <= 1:
            return 0.0 * size
        nodes = math.ceil(n / d)
        steps, between = 2.0 * (n - 1), 2.0 * (nodes - 1)
        link = min(bandwidth, scaleout_bandwidth) if nodes > 1 else bandwidth
        return base_latency + (steps - between) * step_latency + between * network_step_latency \
            + steps / n * size / link
    nodes = np.ceil(n / d)
    steps = 2.0 * (n - 1)
    between = 2.0 * (nodes - 1)
    link = np.where(nodes > 1, min(bandwidth, scaleout_bandwidth), bandwidth)
    t = base_latency + (steps - between) * step_latency + between * network_step_latency \
        + steps / n * size / link
    return scalar_or_array(np.where(n > 1, t, 0.0))


def all_to_all_time(nbytes, chips, domain, scaleup_bandwidth, *, scaleout_bandwidth=SCALEOUT_BANDWIDTH):
    """Seconds for one all-to-all phase in which each of `chips` chips sends `nbytes` spread evenly
    over all chips (its own share stays local).

        t = max(nbytes (n-1)/P / S_up, nbytes (P-n)/P / S_out)

    with P chips in domains of n. The two link types work at the same time. No latency term:
    chapter 3's model of expert parallelism is bandwidth only.
    """
    size = np.asarray(non_negative("nbytes", nbytes))
    p = np.asarray(whole_number("chips", chips))
    n = np.minimum(np.asarray(whole_number("domain", domain)), p)
    up = size * ((n - 1) / p) / float(positive("scaleup_bandwidth", scaleup_bandwidth))
    out = size * ((p - n) / p) / float(positive("scaleout_bandwidth", scaleout_bandwidth))
    return scalar_or_array(np.maximum(up, out))


def hop_time(nbytes, *, bandwidth=SCALEOUT_BANDWIDTH, latency=HOP_LATENCY, links=1):
    """Seconds to move `nbytes` between racks: latency + nbytes / (links x bandwidth).

    `links` NICs share the transfer (each GPU of a stage sends its part through its own NIC).
    Example: 64 sequences x 16384 x 2 B = 2.1 MB over 8 x 50 GB/s: 5 us + 5.2 us = 10.2 us.
    """
    n = non_negative("nbytes", nbytes)
    bw = positive("bandwidth", bandwidth)
    lat = non_negative("latency", latency)
    k = positive("links", links)
    return scalar_or_array(lat + n / (k * bw))
