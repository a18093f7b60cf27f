"""The course's experiments: the code behind each lesson's measured claims and its table.

A lesson imports its module as `bench` (`from minidiff.experiments import welcome as bench`);
`python -m minidiff.experiments.NAME [--fast]` (or, in a clone, `python benchmarks/NAME.py`)
prints the same tables and, last, one JSON line of figures.

| module | lesson |
|---|---|
| welcome | 00 welcome |
| forward_sdes | 01 forward SDEs |
| reverse_samplers | 02 scores and time reversal |
| likelihood (with ode_solvers, its Euler vs Heun part) | 03 score matching and likelihood |
| digits_cfg (with digits_samplers, its FD vs NFE and solver part) | 04 images |
| unet_throughput (needs diffusers) | 04's UNet vs diffusers' (quoted nowhere: MFU exceeds 1) |
| text_to_image | 05 text to image |
| mobile_unet | 06 efficient UNet |
| latent_diffusion | 07 latent diffusion |
| distillation (with distillation_seeds, its seed runs and claims) | 08 few-step distillation |
| hdit_scaling (cost against resolution) and hdit_quality (training at equal FLOPs) | 09 HDiT |
| tiled_sampling (tiles on wide canvases), aspect_buckets (ARAD; the two stages) | 10 any size |
| fit_overhead | the training loop's cost (README): fit vs a bare AdamW loop, ops per step |
"""
