"""The hand-written NumPy reference network of backprop-parity.

Modules, in the order a learner reads them beside the articles:
activations, losses, layout, spec, network, gradcheck, calculus; then case
(case files) and expr (their expressions); contract (what every backend style
keeps), trace (a trace assembled once for every style), registry (the backends),
functions (what case expressions may call) and backend (the reference as one
backend of the registry).
"""
