"""The golden model: the executable, bit-exact specification of modsnn."""
