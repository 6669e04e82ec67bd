"""``glassfix monitor``: follow a running creep/AQS/NVE job (terminal + self-contained HTML dashboard).

``sources`` reads a run's files incrementally (torn last lines wait for the next poll), ``state`` keeps the
series, the creep-law fit, prediction statistics, the spatial map, throughput and ETA; ``terminal`` and
``html`` (with ``svg``) draw them; ``report`` writes the end-of-run page. The command is
``glassfix.cli.monitor``.
"""

from glassfix.monitor.sources import MonitorError, RunData, open_source
from glassfix.monitor.state import MonitorState

__all__ = ["MonitorError", "MonitorState", "RunData", "open_source"]
