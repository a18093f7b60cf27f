"""minidiff: the small diffusion library the minidiff course teaches from.

Modules, in the order the course introduces them: sde, data, samplers, schedules, targets,
losses, nets, train, likelihood, viz, show. Import modules, not names:
`from minidiff import sde, samplers`. Each lesson's measured claims: `minidiff.experiments`.
"""

__version__ = "0.1.0"
