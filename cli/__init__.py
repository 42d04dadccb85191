"""modsnn: an on-chip learning spiking neural network accelerator and its bit-exact golden model.

Sub-packages: :mod:`modsnn.golden_model` (the executable specification), :mod:`modsnn.hw`
(Amaranth gateware), :mod:`modsnn.sim` (cocotb verification), :mod:`modsnn.boards` (FPGA boards).
"""

__version__ = "0.1.0"
