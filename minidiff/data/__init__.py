"""Data for the course. `toy2d`: 2-D toy distributions, Gaussian mixtures with exact densities."""
