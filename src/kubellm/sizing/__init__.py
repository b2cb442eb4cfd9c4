"""Sizing for an SLO: search GPU types, parallelism, quantization and engine limits, simulate the
survivors under the traffic, and rank what meets the latency targets by cost.

Sits beside ``render`` and ``lint``: it needs the planner (``plan``), the simulator (``sim``) and the
gateway's routing policies, and the CLI is its only caller.
"""

from kubellm.sizing.predict import Prediction, simulate
from kubellm.sizing.traffic import Traffic, build_trace, parse_traffic

__all__ = ["Prediction", "Traffic", "build_trace", "parse_traffic", "simulate"]
