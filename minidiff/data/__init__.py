"""Data for the course. `toy2d`: 2-D toy distributions, Gaussian mixtures with exact densities;
`digits`: scikit-learn's handwritten digits at 16x16; `shapes`: captioned procedural images;
`scenes`: procedural landscapes of any size, with a checkable composition (lesson 10)."""
