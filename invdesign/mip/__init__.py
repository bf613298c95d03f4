"""Mixed-integer programming of piecewise-linear (ReLU) surrogates: the model read as layers
(`network`), the program and HiGHS (`program`), the space and the network as blocks of it
(`encode`), the energy as its cost (`energy`), and certificates for any solver's designs
(`certify`). ``method="milp"`` (`invdesign.solvers.milp`) runs them."""
