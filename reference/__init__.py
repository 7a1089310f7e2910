"""The hand-written NumPy reference network of backprop-parity.

Modules, in the order a learner reads them beside the articles:
activations, losses, layout, spec, network, gradcheck, calculus; then case
(case files) and backend (the reference as one backend among three).
"""
