"""Long science runs behind ``glassfix reproduce …``: resumable, with progress, writing reports to ``docs/``."""
