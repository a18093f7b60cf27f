"""Networks: `layers` (shared building blocks such as the time embedding) and `mlp` (2-D toys)."""
